// Checkpoints in the safetensors layout: an 8-byte little-endian header length, a JSON header
// mapping each tensor name to {dtype, shape, data_offsets}, then the raw little-endian data.
// Names are PyTorch's state_dict keys, so `safetensors.torch.load_file` reads kelvin's weights
// and kelvin reads PyTorch's. Files are written to a temporary name and renamed, so a crash
// never leaves a half-written checkpoint under the real name.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "engine/tensor.h"

namespace kelvin {

struct NamedTensorRef {
    std::string name;
    Tensor tensor;
};

void save_safetensors(const std::string& path, const std::vector<NamedTensorRef>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

struct SafetensorsFile {
    std::map<std::string, Tensor> tensors;  // on the CPU
    std::map<std::string, std::string> metadata;
};
SafetensorsFile load_safetensors(const std::string& path);

// Writes `text` to path atomically (temporary file in the same folder, then rename).
void write_file_atomically(const std::string& path, const std::string& text);

}  // namespace kelvin
