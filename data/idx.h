// IDX files (the MNIST / Fashion-MNIST format), raw or gzipped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/host_dataset.h"

namespace kelvin::data {

// An unsigned-byte IDX array: `values` holds the product of `dims` bytes, row-major.
struct IdxArray {
    std::vector<int64_t> dims;
    std::vector<uint8_t> values;
};

// The whole content of `path`, gunzipped when it starts with the gzip magic 1f 8b.
// Errors read "<context>: <path>: <what went wrong>".
std::vector<uint8_t> read_file_maybe_gzip(const std::string& path, const std::string& context);

// Reads an unsigned-byte (type 0x08) IDX file with `expected_dims` dimensions, i.e. magic
// 0x00000801 for labels and 0x00000803 for images. The file must hold exactly the bytes its
// header announces. Errors read "<context>: <path>: <what went wrong>".
IdxArray read_idx(const std::string& path, int expected_dims, const std::string& context = "idx");

// Reads {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz] from `dir` (the .gz name is tried first),
// checks that image and label counts agree and labels are in 0-9. Images are 1 x rows x cols.
HostDataset load_fashion_mnist(const std::string& dir, bool train);
// Same files and layout; only the name ("mnist") and class names ("0".."9") differ.
HostDataset load_mnist(const std::string& dir, bool train);

}  // namespace kelvin::data
