// Image folders: the input is one image file (PNG, JPEG, BMP, ... stb decides by content) of a
// one-class folder, loaded as grayscale or RGB at its own size or resized to 8x8 (first byte).
#include "data/image_folder.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    if (size == 0) return 0;
    const int mode = data[0] % 4;
    fuzz::write_file("images/cat/a.png", data + 1, size - 1);
    const std::string root = (fuzz::scratch() / "images").string();
    const int channels = mode % 2 == 0 ? 1 : 3, side = mode < 2 ? 0 : 8;
    fuzz::expect_kelvin_errors_only(data, size, [&] { data::load_image_folder(root, channels, side, side); });
    return 0;
}
