// Where a tensor lives and what it holds.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

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

// Thrown for errors a user can act on (bad input, bad options); the CLI prints `what()` alone.
class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

}  // namespace kelvin

// Checks an invariant of the caller's input; the message should say what was expected.
#define KELVIN_CHECK(cond, msg)                                   \
    do {                                                          \
        if (!(cond)) throw ::kelvin::Error(std::string(msg));     \
    } while (0)
