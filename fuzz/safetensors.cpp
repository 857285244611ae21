// Checkpoints in the safetensors layout (engine/checkpoint): load_safetensors on any bytes.
#include "engine/checkpoint.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    const std::string path = fuzz::write_file("input.safetensors", data, size);
    fuzz::expect_kelvin_errors_only(data, size, [&] { load_safetensors(path); });
    return 0;
}
