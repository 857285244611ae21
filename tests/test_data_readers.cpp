// Host-side data readers: IDX, CIFAR, image folders, dataset specs. Each test writes small files
// in the official layouts into a fresh temporary directory.
#include <doctest/doctest.h>
#include <stb/stb_image_write.h>  // the implementation lives in libstb.so
#include <zlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/dataset_spec.h"
#include "data/host_dataset.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "tests/cli_runner.h"

namespace fs = std::filesystem;
using namespace kelvin::data;
using kelvin::Error;

namespace {

struct TempDir {
    fs::path path;
    TempDir() {
        static std::atomic<int> counter{0};
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path = fs::temp_directory_path() /
               ("kelvin-data-test-" + std::to_string(stamp) + "-" + std::to_string(counter++));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string str(const std::string& rel = "") const { return rel.empty() ? path.string() : (path / rel).string(); }
};

using Bytes = std::vector<uint8_t>;

void write_file(const std::string& path, const Bytes& bytes) {
    fs::create_directories(fs::path(path).parent_path());
    std::ofstream out(path, std::ios::binary);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_gzip(const std::string& path, const Bytes& bytes) {
    gzFile f = gzopen(path.c_str(), "wb");
    REQUIRE(f != nullptr);
    REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) == static_cast<int>(bytes.size()));
    gzclose(f);
}

void put_be32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

Bytes idx_images(uint32_t count, uint32_t rows, uint32_t cols) {
    Bytes b;
    put_be32(b, 0x803);
    put_be32(b, count);
    put_be32(b, rows);
    put_be32(b, cols);
    for (uint32_t i = 0; i < count * rows * cols; ++i) b.push_back(static_cast<uint8_t>(i * 7));
    return b;
}

Bytes idx_labels(const Bytes& labels) {
    Bytes b;
    put_be32(b, 0x801);
    put_be32(b, static_cast<uint32_t>(labels.size()));
    b.insert(b.end(), labels.begin(), labels.end());
    return b;
}

// Runs f, which must throw kelvin::Error, and returns the message.
template <class F>
std::string error_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    FAIL("no kelvin::Error thrown");
    return "";
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// A CIFAR record: label byte(s) then 3072 pixels whose value encodes (record seed, channel, position).
Bytes cifar_record(std::initializer_list<uint8_t> labels, uint8_t seed) {
    Bytes r(labels);
    for (int i = 0; i < 3072; ++i) r.push_back(static_cast<uint8_t>(seed + i / 1024 * 50 + i % 7));
    return r;
}

Bytes concat(const std::vector<Bytes>& parts) {
    Bytes out;
    for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

void write_png(const std::string& path, int w, int h, int comp, const Bytes& pixels) {
    fs::create_directories(fs::path(path).parent_path());
    REQUIRE(stbi_write_png(path.c_str(), w, h, comp, pixels.data(), w * comp) != 0);
}

Bytes solid(int w, int h, std::initializer_list<uint8_t> color) {
    Bytes b;
    for (int i = 0; i < w * h; ++i) b.insert(b.end(), color);
    return b;
}

}  // namespace

// ---- IDX / Fashion-MNIST ---------------------------------------------------------------------

TEST_CASE("idx: raw and gzipped files load with shape, pixels, labels and class names") {
    TempDir dir;
    write_file(dir.str("t10k-images-idx3-ubyte"), idx_images(3, 4, 5));
    write_file(dir.str("t10k-labels-idx1-ubyte"), idx_labels({9, 0, 4}));
    write_gzip(dir.str("train-images-idx3-ubyte.gz"), idx_images(2, 4, 5));
    write_gzip(dir.str("train-labels-idx1-ubyte.gz"), idx_labels({1, 2}));

    HostDataset test = load_fashion_mnist(dir.str(), false);
    CHECK(test.name == "fashion-mnist");
    CHECK(test.count == 3);
    CHECK(test.channels == 1);
    CHECK(test.height == 4);
    CHECK(test.width == 5);
    CHECK(test.image_size() == 20);
    CHECK(test.pixels.size() == 60);
    CHECK(test.pixels[21] == static_cast<uint8_t>(21 * 7));
    CHECK(test.labels == std::vector<int32_t>{9, 0, 4});
    CHECK(test.num_classes == 10);
    REQUIRE(test.class_names.size() == 10);
    CHECK(test.class_names[0] == "T-shirt/top");
    CHECK(test.class_names[9] == "Ankle boot");

    HostDataset train = load_fashion_mnist(dir.str(), true);
    CHECK(train.count == 2);
    CHECK(train.labels == std::vector<int32_t>{1, 2});
    const Bytes train_file = idx_images(2, 4, 5);
    CHECK(train.pixels == Bytes(train_file.begin() + 16, train_file.end()));

    HostDataset mnist = load_mnist(dir.str(), true);
    CHECK(mnist.name == "mnist");
    CHECK(mnist.class_names[3] == "3");
}

TEST_CASE("idx: truncated and over-long files report expected and found bytes") {
    TempDir dir;
    Bytes images = idx_images(10, 28, 28);
    images.resize(500);
    write_gzip(dir.str("t10k-images-idx3-ubyte.gz"), images);
    write_file(dir.str("t10k-labels-idx1-ubyte"), idx_labels(Bytes(10, 1)));
    std::string msg = error_of([&] { load_fashion_mnist(dir.str(), false); });
    CHECK(contains(msg, "fashion-mnist: "));
    CHECK(contains(msg, "t10k-images-idx3-ubyte.gz"));
    CHECK(contains(msg, "7856 bytes expected for 10 28x28 images"));
    CHECK(contains(msg, "found 500"));

    Bytes labels = idx_labels(Bytes(3, 1));
    labels.push_back(0);
    write_file(dir.str("x-labels"), labels);
    msg = error_of([&] { read_idx(dir.str("x-labels"), 1, "test"); });
    CHECK(contains(msg, "x-labels"));
    CHECK(contains(msg, "11 bytes expected for 3 labels"));
    CHECK(contains(msg, "found 12 (trailing bytes)"));

    write_file(dir.str("tiny"), {0, 0});
    msg = error_of([&] { read_idx(dir.str("tiny"), 1, "test"); });
    CHECK(contains(msg, "tiny: 2 bytes, too short for an IDX header"));
}

TEST_CASE("idx: a truncated gzip stream is an error, not a short file") {
    TempDir dir;
    write_gzip(dir.str("a.gz"), idx_images(50, 28, 28));
    std::ifstream in(dir.str("a.gz"), std::ios::binary);
    Bytes gz((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    gz.resize(gz.size() / 2);
    write_file(dir.str("b.gz"), gz);
    std::string msg = error_of([&] { read_idx(dir.str("b.gz"), 3, "test"); });
    CHECK(contains(msg, "b.gz"));
    CHECK(contains(msg, "gzip data corrupt or truncated"));
}

TEST_CASE("idx: wrong magic and element type are named") {
    TempDir dir;
    write_file(dir.str("t10k-images-idx3-ubyte"), idx_images(2, 3, 3));
    write_file(dir.str("t10k-labels-idx1-ubyte"), idx_images(2, 3, 3));  // images where labels belong
    std::string msg = error_of([&] { load_fashion_mnist(dir.str(), false); });
    CHECK(contains(msg, "t10k-labels-idx1-ubyte"));
    CHECK(contains(msg, "magic 0x00000803"));
    CHECK(contains(msg, "expected 0x00000801"));

    Bytes floats = idx_labels({1, 2});
    floats[2] = 0x0D;
    write_file(dir.str("floats"), floats);
    msg = error_of([&] { read_idx(dir.str("floats"), 1, "test"); });
    CHECK(contains(msg, "floats: magic 0x00000d01 (element type 0x0d"));

    write_file(dir.str("text"), {'h', 'e', 'l', 'l', 'o'});
    msg = error_of([&] { read_idx(dir.str("text"), 3, "test"); });
    CHECK(contains(msg, "text: magic 0x68656c6c (not an IDX file), expected 0x00000803"));
}

TEST_CASE("idx: label and image counts must agree, labels must be 0-9") {
    TempDir dir;
    write_file(dir.str("train-images-idx3-ubyte"), idx_images(4, 2, 2));
    write_file(dir.str("train-labels-idx1-ubyte"), idx_labels({1, 2, 3}));
    std::string msg = error_of([&] { load_fashion_mnist(dir.str(), true); });
    CHECK(contains(msg, "train-labels-idx1-ubyte has 3 labels"));
    CHECK(contains(msg, "train-images-idx3-ubyte has 4 images"));

    write_file(dir.str("train-labels-idx1-ubyte"), idx_labels({1, 2, 12, 3}));
    msg = error_of([&] { load_fashion_mnist(dir.str(), true); });
    // The byte offset, for a hex editor: 8 header bytes + the index.
    CHECK(contains(msg, "train-labels-idx1-ubyte: label 12 at index 2 (byte offset 10) out of range 0-9"));
}

TEST_CASE("idx: missing directory and missing files are named") {
    TempDir dir;
    std::string msg = error_of([&] { load_fashion_mnist(dir.str("nope"), true); });
    CHECK(msg == "fashion-mnist: data directory " + dir.str("nope") + " does not exist");
    msg = error_of([&] { load_fashion_mnist(dir.str(), true); });
    CHECK(msg == "fashion-mnist: missing file " + dir.str("train-images-idx3-ubyte") + "(.gz)");
    // A folder where the file should be: the stream library's own error named no file.
    fs::create_directory(dir.str("train-images-idx3-ubyte"));
    write_file(dir.str("train-labels-idx1-ubyte"), idx_labels({1}));
    msg = error_of([&] { load_fashion_mnist(dir.str(), true); });
    CHECK(msg == "fashion-mnist: " + dir.str("train-images-idx3-ubyte") + ": is a folder, expected a file");
}

TEST_CASE("idx: the real Fashion-MNIST test split" *
          doctest::skip(!kelvin::testing::kHaveFashionMnist)) {
    HostDataset d = load_fashion_mnist("/usr/share/datasets/fashion-mnist", false);
    CHECK(d.count == 10000);
    CHECK(d.channels == 1);
    CHECK(d.height == 28);
    CHECK(d.width == 28);
    CHECK(d.pixels.size() == 10000u * 784u);
    CHECK(d.labels[0] == 9);
    std::vector<int> per_class(10, 0);
    for (int32_t l : d.labels) per_class.at(l)++;
    for (int n : per_class) CHECK(n == 1000);
}

// ---- CIFAR -------------------------------------------------------------------------------------

TEST_CASE("cifar10: batches load from the dir or its parent, NCHW pixels and labels kept") {
    TempDir dir;
    const std::string sub = dir.str("cifar-10-batches-bin");
    for (int b = 1; b <= 5; ++b)
        write_file(sub + "/data_batch_" + std::to_string(b) + ".bin",
                   concat({cifar_record({uint8_t(b)}, uint8_t(b)), cifar_record({uint8_t(b + 4)}, uint8_t(b + 100))}));
    write_file(sub + "/test_batch.bin", concat({cifar_record({3}, 7), cifar_record({0}, 8), cifar_record({9}, 9)}));

    HostDataset train = load_cifar10(dir.str(), true);  // the parent
    CHECK(train.name == "cifar10");
    CHECK(train.count == 10);
    CHECK(train.channels == 3);
    CHECK(train.height == 32);
    CHECK(train.width == 32);
    CHECK(train.pixels.size() == 10u * 3072u);
    CHECK(train.labels == std::vector<int32_t>{1, 5, 2, 6, 3, 7, 4, 8, 5, 9});
    const Bytes r = cifar_record({0}, 103);  // batch 3, second record
    CHECK(Bytes(train.pixels.begin() + 5 * 3072, train.pixels.begin() + 6 * 3072) == Bytes(r.begin() + 1, r.end()));
    REQUIRE(train.class_names.size() == 10);
    CHECK(train.class_names[0] == "airplane");
    CHECK(train.class_names[9] == "truck");

    write_file(sub + "/batches.meta.txt", {'a', '\n', 'b', '\r', '\n', 'c', '\n', 'd', '\n', 'e', '\n', 'f', '\n',
                                           'g', '\n', 'h', '\n', 'i', '\n', 'j', '\n', '\n'});
    HostDataset test = load_cifar10(sub, false);  // the dir itself
    CHECK(test.count == 3);
    CHECK(test.labels == std::vector<int32_t>{3, 0, 9});
    CHECK(test.class_names[1] == "b");
    CHECK(test.class_names[9] == "j");
}

TEST_CASE("cifar10: bad size, bad label, missing files") {
    TempDir dir;
    write_file(dir.str("test_batch.bin"), concat({cifar_record({1}, 0), cifar_record({2}, 0), Bytes(5, 0)}));
    std::string msg = error_of([&] { load_cifar10(dir.str(), false); });
    CHECK(contains(msg, "cifar10: "));
    CHECK(contains(msg, "test_batch.bin: 6151 bytes, expected a multiple of 3073"));

    write_file(dir.str("test_batch.bin"), concat({cifar_record({1}, 0), cifar_record({12}, 0)}));
    msg = error_of([&] { load_cifar10(dir.str(), false); });
    CHECK(contains(msg, "test_batch.bin: record 1 (byte offset 3073): label 12 out of range 0-9"));

    msg = error_of([&] { load_cifar10(dir.str(), true); });
    CHECK(msg == "cifar10: missing file " + dir.str("data_batch_1.bin"));
    msg = error_of([&] { load_cifar10(dir.str("absent"), true); });
    CHECK(contains(msg, "cifar10: data directory " + dir.str("absent") + " does not exist"));

    write_file(dir.str("test_batch.bin"), cifar_record({1}, 0));
    write_file(dir.str("batches.meta.txt"), {'a', '\n', 'b', '\n'});
    msg = error_of([&] { load_cifar10(dir.str(), false); });
    CHECK(contains(msg, "batches.meta.txt: 2 class names, expected 10"));
}

TEST_CASE("cifar100: fine labels by default, coarse on request, both validated") {
    TempDir dir;
    const std::string sub = dir.str("cifar-100-binary");
    write_file(sub + "/train.bin", concat({cifar_record({4, 99}, 1), cifar_record({19, 0}, 2)}));
    write_file(sub + "/test.bin", cifar_record({0, 42}, 3));

    HostDataset fine = load_cifar100(dir.str(), true);
    CHECK(fine.name == "cifar100");
    CHECK(fine.count == 2);
    CHECK(fine.num_classes == 100);
    CHECK(fine.labels == std::vector<int32_t>{99, 0});
    const Bytes r = cifar_record({19, 0}, 2);
    CHECK(Bytes(fine.pixels.begin() + 3072, fine.pixels.end()) == Bytes(r.begin() + 2, r.end()));
    REQUIRE(fine.class_names.size() == 100);
    CHECK(fine.class_names[0] == "apple");
    CHECK(fine.class_names[99] == "worm");
    CHECK(std::is_sorted(fine.class_names.begin(), fine.class_names.end()));

    HostDataset coarse = load_cifar100(sub, true, true);
    CHECK(coarse.num_classes == 20);
    CHECK(coarse.labels == std::vector<int32_t>{4, 19});
    REQUIRE(coarse.class_names.size() == 20);
    CHECK(coarse.class_names[19] == "vehicles_2");

    CHECK(load_cifar100(dir.str(), false).labels == std::vector<int32_t>{42});

    std::string names;
    for (int i = 0; i < 100; ++i) names += "class" + std::to_string(i) + "\n";
    write_file(sub + "/fine_label_names.txt", Bytes(names.begin(), names.end()));
    CHECK(load_cifar100(dir.str(), false).class_names[42] == "class42");

    write_file(sub + "/test.bin", concat({cifar_record({0, 42}, 3), cifar_record({1, 2}, 3), cifar_record({1, 100}, 3)}));
    std::string msg = error_of([&] { load_cifar100(dir.str(), false); });
    CHECK(contains(msg, "test.bin: record 2 (byte offset 6148): fine label 100 out of range 0-99"));
    write_file(sub + "/test.bin", cifar_record({20, 2}, 3));
    msg = error_of([&] { load_cifar100(dir.str(), false); });
    CHECK(contains(msg, "test.bin: record 0 (byte offset 0): coarse label 20 out of range 0-19"));
    write_file(sub + "/test.bin", Bytes(3073, 0));
    msg = error_of([&] { load_cifar100(dir.str(), false); });
    CHECK(contains(msg, "test.bin: 3073 bytes, expected a multiple of 3074"));
}

// ---- image folders -----------------------------------------------------------------------------

TEST_CASE("image folder: bilinear resize") {
    // 1x2 -> 1x4 with centres aligned: taps at -0.25 (clamped), 0.25, 0.75, 1.25 (clamped).
    const uint8_t src[2] = {0, 200};
    uint8_t dst[4];
    resize_bilinear(src, 1, 2, 1, dst, 1, 4);
    CHECK(dst[0] == 0);
    CHECK(dst[1] == 50);
    CHECK(dst[2] == 150);
    CHECK(dst[3] == 200);
    // 2x2 -> 1x1 averages all four.
    const uint8_t square[4] = {0, 100, 100, 200};
    uint8_t one;
    resize_bilinear(square, 2, 2, 1, &one, 1, 1);
    CHECK(one == 100);
    // Equal sizes copy; channels stay separate.
    const uint8_t rgb[6] = {1, 2, 3, 4, 5, 6};
    uint8_t copy[6];
    resize_bilinear(rgb, 1, 2, 3, copy, 1, 2);
    CHECK(std::equal(rgb, rgb + 6, copy));
}

TEST_CASE("image folder: classes sorted by name, images resized, NCHW, grayscale or RGB") {
    TempDir dir;
    write_png(dir.str("zebra/a.png"), 10, 6, 3, solid(10, 6, {0, 0, 255}));
    write_png(dir.str("cat/b.png"), 4, 4, 3, solid(4, 4, {255, 0, 0}));
    write_png(dir.str("cat/a.PNG"), 16, 9, 1, solid(16, 9, {255}));
    write_png(dir.str("dog/x.png"), 7, 3, 3, solid(7, 3, {0, 255, 0}));
    write_file(dir.str("dog/notes.txt"), {'h', 'i'});
    write_file(dir.str("dog/.hidden.png"), {1, 2, 3});
    fs::create_directories(dir.str(".cache"));

    HostDataset d = load_image_folder(dir.str(), 3, 5, 8);
    CHECK(d.name == "folder:" + dir.str());
    CHECK(d.count == 4);
    CHECK(d.channels == 3);
    CHECK(d.height == 5);
    CHECK(d.width == 8);
    CHECK(d.num_classes == 3);
    CHECK(d.class_names == std::vector<std::string>{"cat", "dog", "zebra"});
    CHECK(d.labels == std::vector<int32_t>{0, 0, 1, 2});
    CHECK(d.pixels.size() == 4u * 3 * 5 * 8);
    auto plane = [&](int image, int channel) {
        auto begin = d.pixels.begin() + image * d.image_size() + channel * 40;
        return Bytes(begin, begin + 40);
    };
    CHECK(plane(0, 0) == Bytes(40, 255));  // cat/a.PNG: white grayscale expanded to RGB
    CHECK(plane(0, 2) == Bytes(40, 255));
    CHECK(plane(1, 0) == Bytes(40, 255));  // cat/b.png: red
    CHECK(plane(1, 1) == Bytes(40, 0));
    CHECK(plane(2, 1) == Bytes(40, 255));  // dog: green
    CHECK(plane(3, 2) == Bytes(40, 255));  // zebra: blue
    CHECK(plane(3, 0) == Bytes(40, 0));

    HostDataset gray = load_image_folder(dir.str(), 1, 3, 3);
    CHECK(gray.channels == 1);
    CHECK(gray.pixels.size() == 4u * 9);
    CHECK(gray.pixels[0] == 255);

    HostDataset native = load_image_folder(dir.str(), 1, 0, 0);  // size of cat/a.PNG
    CHECK(native.height == 9);
    CHECK(native.width == 16);
}

TEST_CASE("image folder: a gradient survives decoding and the NCHW transpose") {
    TempDir dir;
    Bytes rgb;
    for (int y = 0; y < 2; ++y)
        for (int x = 0; x < 3; ++x) rgb.insert(rgb.end(), {uint8_t(10 * x + y), uint8_t(100 + x), uint8_t(200 + y)});
    write_png(dir.str("only/img.png"), 3, 2, 3, rgb);
    HostDataset d = load_image_folder(dir.str(), 3, 2, 3);
    CHECK(d.pixels == Bytes{0, 10, 20, 1, 11, 21, 100, 101, 102, 100, 101, 102, 200, 200, 200, 201, 201, 201});
}

TEST_CASE("image folder: deterministic split, or train/ and test/ sub-folders") {
    TempDir dir;
    for (int i = 0; i < 11; ++i)
        write_png(dir.str("a/img" + std::to_string(10 + i) + ".png"), 2, 2, 1, solid(2, 2, {uint8_t(i)}));
    for (int i = 0; i < 3; ++i)
        write_png(dir.str("b/img" + std::to_string(i) + ".png"), 2, 2, 1, solid(2, 2, {uint8_t(100 + i)}));

    HostDataset train = load_image_folder_split(dir.str(), true, 1, 2, 2);
    HostDataset test = load_image_folder_split(dir.str(), false, 1, 2, 2);
    CHECK(train.count == 12);
    CHECK(test.count == 2);
    CHECK(test.labels == std::vector<int32_t>{0, 0});
    CHECK(test.pixels[0] == 4);  // a/img14.png, the 5th file
    CHECK(test.pixels[4] == 9);  // a/img19.png, the 10th
    CHECK(test.num_classes == 2);

    TempDir split;
    write_png(split.str("train/x/1.png"), 2, 2, 1, solid(2, 2, {1}));
    write_png(split.str("train/y/1.png"), 2, 2, 1, solid(2, 2, {2}));
    write_png(split.str("test/x/1.bmp"), 2, 2, 1, solid(2, 2, {3}));
    write_png(split.str("test/y/1.jpg"), 2, 2, 1, solid(2, 2, {4}));  // PNG bytes; stb sniffs content
    HostDataset t = load_image_folder_split(split.str(), false, 1, 1, 1);
    CHECK(t.labels == std::vector<int32_t>{0, 1});
    CHECK(t.pixels == Bytes{3, 4});
    CHECK(t.class_names == std::vector<std::string>{"x", "y"});

    fs::remove_all(split.str("test/y"));
    fs::create_directories(split.str("test/z"));
    write_png(split.str("test/z/1.png"), 2, 2, 1, solid(2, 2, {4}));
    std::string msg = error_of([&] { load_image_folder_split(split.str(), true, 1, 1, 1); });
    CHECK(contains(msg, "train/ and test/ must hold the same class folders; train/ has x, y; test/ has x, z"));

    // What is not read is said: a text file and a nested folder in class folders.
    TempDir extra;
    for (int i = 0; i < 5; ++i) write_png(extra.str("a/" + std::to_string(i) + ".png"), 2, 2, 1, solid(2, 2, {1}));
    write_png(extra.str("a/deeper/9.png"), 2, 2, 1, solid(2, 2, {1}));
    std::ofstream(extra.str("a/README.txt")) << "not an image";
    HostDataset with_extra = load_image_folder_split(extra.str(), true, 1, 2, 2);
    CHECK(with_extra.count == 4);
    REQUIRE(with_extra.notes.size() == 1);
    CHECK(contains(with_extra.notes[0], "skipped 2 entries of class folders"));
    CHECK(contains(with_extra.notes[0], "README.txt"));
    CHECK(load_image_folder_split(dir.str(), true, 1, 2, 2).notes.empty());

    TempDir tiny;
    write_png(tiny.str("a/1.png"), 2, 2, 1, solid(2, 2, {4}));
    msg = error_of([&] { load_image_folder_split(tiny.str(), false, 1, 1, 1); });
    CHECK(contains(msg, "the test split is empty"));
}

TEST_CASE("image folder: errors name the folder or file") {
    TempDir dir;
    std::string msg = error_of([&] { load_image_folder(dir.str("missing"), 3, 8, 8); });
    CHECK(msg == "folder: image folder " + dir.str("missing") + " does not exist");
    msg = error_of([&] { load_image_folder(dir.str(), 3, 8, 8); });
    CHECK(contains(msg, "folder: " + dir.str() + " has no class sub-folders"));

    fs::create_directories(dir.str("empty"));
    msg = error_of([&] { load_image_folder(dir.str(), 3, 8, 8); });
    CHECK(contains(msg, "class folder " + dir.str("empty") + " has no PNG, JPEG or BMP files"));

    write_png(dir.str("empty/ok.png"), 2, 2, 3, solid(2, 2, {1, 2, 3}));
    write_file(dir.str("empty/broken.png"), {'n', 'o', 't', ' ', 'a', ' ', 'p', 'n', 'g'});
    msg = error_of([&] { load_image_folder(dir.str(), 3, 8, 8); });
    CHECK(contains(msg, "folder: " + dir.str("empty/broken.png") + ": cannot decode image: "));
    CHECK(msg.size() > std::string("folder: " + dir.str("empty/broken.png") + ": cannot decode image: ").size());

    fs::remove(dir.str("empty/broken.png"));
    msg = error_of([&] { load_image_folder(dir.str(), 4, 8, 8); });
    CHECK(contains(msg, "4 channels requested; expected 1 (grayscale) or 3 (RGB)"));
    msg = error_of([&] { load_image_folder(dir.str(), 3, 8, 0); });
    CHECK(contains(msg, "image size 8x0 requested"));
}

// ---- dataset specs and class subsets -------------------------------------------------------------

TEST_CASE("dataset spec: kinds, paths and class lists") {
    DatasetSpec s = parse_dataset_spec("fashion-mnist");
    CHECK(s.kind == "fashion-mnist");
    CHECK(s.path.empty());
    CHECK(s.classes.empty());
    CHECK(s.text == "fashion-mnist");
    CHECK(parse_dataset_spec("mnist").kind == "mnist");
    CHECK(parse_dataset_spec("cifar100").kind == "cifar100");

    s = parse_dataset_spec("cifar10:classes=0-4");
    CHECK(s.kind == "cifar10");
    CHECK(s.classes == std::vector<int>{0, 1, 2, 3, 4});
    CHECK(parse_dataset_spec("cifar10:classes=0,3,7").classes == std::vector<int>{0, 3, 7});
    CHECK(parse_dataset_spec("cifar10:classes=7,0-2,5").classes == std::vector<int>{7, 0, 1, 2, 5});
    CHECK(parse_dataset_spec("mnist:classes=3").classes == std::vector<int>{3});

    s = parse_dataset_spec("folder:/data/my:pets:classes=1,0");
    CHECK(s.kind == "folder");
    CHECK(s.path == "/data/my:pets");
    CHECK(s.classes == std::vector<int>{1, 0});
    CHECK(parse_dataset_spec("folder:rel/dir").path == "rel/dir");
}

TEST_CASE("dataset spec: errors name the spec and the allowed forms") {
    auto check_error = [](const std::string& text, const std::string& fact) {
        std::string msg = error_of([&] { parse_dataset_spec(text); });
        CAPTURE(msg);
        CHECK(contains(msg, "dataset spec '" + text + "'"));
        CHECK(contains(msg, fact));
        CHECK(contains(msg, "expected fashion-mnist, mnist, cifar10, cifar100 or folder:PATH"));
    };
    check_error("imagenet", "unknown data set 'imagenet'");
    check_error("", "no data set named");
    check_error("folder:", "folder: needs a path");
    check_error("folder", "folder needs a path");
    check_error("cifar10:fine", "unknown option 'fine'");
    check_error("cifar10:classes=", "empty entry in class list ''");
    check_error("cifar10:classes=1,,2", "empty entry");
    check_error("cifar10:classes=1,", "empty entry");
    check_error("cifar10:classes=a", "bad class list entry 'a'");
    check_error("cifar10:classes=-3", "bad class list entry '-3'");
    check_error("cifar10:classes=1-", "bad class list entry '1-'");
    check_error("cifar10:classes=5-2", "class range '5-2' runs backwards");
    check_error("cifar10:classes=1-3,2", "class 2 listed twice");
    check_error("cifar10:classes=99999999", "bad class list entry");
}

TEST_CASE("select_classes keeps the chosen classes in the given order and re-indexes them") {
    HostDataset d;
    d.name = "toy";
    d.count = 6;
    d.channels = 1;
    d.height = 1;
    d.width = 2;
    d.num_classes = 4;
    d.class_names = {"a", "b", "c", "d"};
    d.labels = {0, 1, 2, 3, 2, 0};
    d.pixels = {0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5};  // sample i is {i, i}

    HostDataset s = select_classes(d, {2, 0});
    CHECK(s.name == "toy");
    CHECK(s.count == 4);
    CHECK(s.num_classes == 2);
    CHECK(s.class_names == std::vector<std::string>{"c", "a"});
    CHECK(s.labels == std::vector<int32_t>{1, 0, 0, 1});
    CHECK(s.pixels == Bytes{0, 0, 2, 2, 4, 4, 5, 5});
    CHECK(s.width == 2);

    CHECK(contains(error_of([&] { select_classes(d, {4}); }), "toy: class 4 out of range; the data set has 4 classes (0-3)"));
    CHECK(contains(error_of([&] { select_classes(d, {1, 1}); }), "class 1 selected twice"));
}

TEST_CASE("load_dataset: data_dir override, class subsets, folder hints") {
    TempDir dir;
    write_file(dir.str("t10k-images-idx3-ubyte"), idx_images(4, 2, 2));
    write_file(dir.str("t10k-labels-idx1-ubyte"), idx_labels({5, 3, 5, 0}));
    HostDataset d = load_dataset(parse_dataset_spec("mnist:classes=5,0"), dir.str(), false);
    CHECK(d.name == "mnist");
    CHECK(d.count == 3);
    CHECK(d.labels == std::vector<int32_t>{0, 0, 1});
    CHECK(d.class_names == std::vector<std::string>{"5", "0"});

    std::string msg = error_of([&] { load_dataset(parse_dataset_spec("mnist:classes=3,10"), dir.str(), false); });
    CHECK(contains(msg, "dataset spec 'mnist:classes=3,10': class 10 out of range; mnist has 10 classes (0-9)"));

    write_file(dir.str("test_batch.bin"), concat({cifar_record({1}, 0), cifar_record({2}, 0)}));
    CHECK(load_dataset(parse_dataset_spec("cifar10"), dir.str(), false).count == 2);

    write_png(dir.str("imgs/a/1.png"), 5, 5, 3, solid(5, 5, {9, 9, 9}));
    HostDataset f = load_dataset(parse_dataset_spec("folder:" + dir.str("imgs")), "", true, 0, 4, 6);
    CHECK(f.channels == 3);
    CHECK(f.height == 4);
    CHECK(f.width == 6);
    CHECK(f.count == 1);
}
