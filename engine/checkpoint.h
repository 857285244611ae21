// Checkpoints in the safetensors layout: an 8-byte little-endian header length, a JSON header
// mapping each tensor name to {dtype, shape, data_offsets}, then the raw little-endian data.
// Names are PyTorch's state_dict keys, so `safetensors.torch.load_file` reads kelvin's weights
// and kelvin reads PyTorch's. Files are written to a temporary name and renamed, so a crash
// never leaves a half-written checkpoint under the real name.
#pragma once

#include <filesystem>
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

// Replaces several files of one folder as a unit, so that a process killed at any moment
// leaves either all of the old files or all of the new ones (after recover_file_group). A run's
// weights, optimizer state and metrics must agree on the epoch, or a resumed run would silently
// continue from a mixed state. Files are staged as NAME.kelvin-staged and synced; commit()
// writes a journal naming them (the point of no return), renames each into place, syncs the
// folder, then removes the journal. Every write is fsynced, so this holds across power loss too.
class FileGroupWriter {
public:
    explicit FileGroupWriter(std::filesystem::path dir);
    void add_safetensors(const std::string& name, const std::vector<NamedTensorRef>& tensors,
                         const std::map<std::string, std::string>& metadata = {});
    void add_text(const std::string& name, const std::string& text);
    void commit();

private:
    std::filesystem::path dir_;
    std::vector<std::string> names_;
};

// Completes a group commit that was interrupted after its journal was written, and deletes
// staged files (*.kelvin-staged) of one interrupted before. Returns whether a commit was rolled forward. Call it
// before reading a folder that a killed process may have been writing.
bool recover_file_group(const std::filesystem::path& dir);

}  // namespace kelvin
