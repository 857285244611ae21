// CIFAR-10 and CIFAR-100 binary batches: the first byte picks the layout (CIFAR-10, CIFAR-100
// fine, CIFAR-100 coarse), the rest is the batch file.
#include "data/cifar.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    if (size == 0) return 0;
    const int layout = data[0] % 3;
    const std::string dir = (fuzz::scratch() / "cifar").string();
    fuzz::write_file(layout == 0 ? "cifar/test_batch.bin" : "cifar/test.bin", data + 1, size - 1);
    fuzz::expect_kelvin_errors_only(data, size, [&] {
        if (layout == 0)
            data::load_cifar10(dir, false);
        else
            data::load_cifar100(dir, false, layout == 2);
    });
    return 0;
}
