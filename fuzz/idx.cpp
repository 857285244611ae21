// IDX files (MNIST, Fashion-MNIST), raw or gzipped: read_idx as labels and as images, and a
// whole data folder: the first byte k gives the label file's length, the next k bytes are the
// label file and the rest the image file.
#include <algorithm>

#include "data/idx.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    if (size == 0) return 0;
    const size_t labels = std::min<size_t>(data[0], size - 1);
    const std::string path = fuzz::write_file("input-idx", data + 1, size - 1);
    fuzz::expect_kelvin_errors_only(data, size, [&] { data::read_idx(path, 1); });
    fuzz::expect_kelvin_errors_only(data, size, [&] { data::read_idx(path, 3); });
    fuzz::write_file("mnist/t10k-labels-idx1-ubyte", data + 1, labels);
    fuzz::write_file("mnist/t10k-images-idx3-ubyte", data + 1 + labels, size - 1 - labels);
    fuzz::expect_kelvin_errors_only(data, size, [&] { data::load_mnist((fuzz::scratch() / "mnist").string(), false); });
    return 0;
}
