// Where a tensor lives and what it holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "kernels/error.h"  // kelvin::Error and KELVIN_CHECK, shared with the kernels

namespace kelvin {

enum class Device { CPU, CUDA };
enum class DType { F32, I32 };

inline const char* device_name(Device d) { return d == Device::CPU ? "cpu" : "cuda"; }
inline const char* dtype_name(DType t) { return t == DType::F32 ? "f32" : "i32"; }
inline size_t dtype_size(DType) { return 4; }

Device parse_device(const std::string& name);  // "cpu" | "cuda"; throws otherwise

// True when this binary was built with the CUDA backend.
bool cuda_built();
// True when the CUDA backend is built and at least one device answers.
bool cuda_available();
// Waits until every kernel queued on `device` has finished (nothing to wait for on the CPU):
// what a timer around device work needs, without the caller knowing the backend.
void synchronize(Device device);

}  // namespace kelvin
