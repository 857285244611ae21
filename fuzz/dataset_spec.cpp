// Data set specs as written on the command line ("cifar10:classes=0-4", "folder:PATH").
#include "data/dataset_spec.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    const std::string text(reinterpret_cast<const char*>(data), size);
    fuzz::expect_kelvin_errors_only(data, size, [&] { data::parse_dataset_spec(text); });
    return 0;
}
