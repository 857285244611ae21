// Errors from data/ and engine/ that a user can act on: each names the file (and the tensor, key
// or byte offset) or the value, and what was expected, and none carries a library's own text.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "data/cifar.h"
#include "data/dataset_spec.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "engine/checkpoint.h"
#include "engine/memory_limit.h"
#include "engine/paths.h"
#include "engine/tensor.h"
#include "experiments/train.h"
#include "tests/cli_runner.h"

namespace fs = std::filesystem;
using namespace kelvin;

namespace {

// The message of the kelvin::Error that f throws; fails the test when f throws anything else.
template <class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    } catch (const std::exception& e) {
        FAIL("a library exception reached the user: " << e.what());
    }
    FAIL("no kelvin::Error thrown");
    return "";
}

// Library text that must never reach a user.
void check_no_library_text(const std::string& message) {
    for (const char* raw : {"[json.exception", "map::at", "stoll", "stoi", "std::bad_alloc",
                            "filesystem error", "basic_filebuf", "basic_string"})
        CHECK_MESSAGE(message.find(raw) == std::string::npos, message);
}

bool has(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void write_safetensors_raw(const std::string& path, const std::string& header, size_t data_bytes) {
    std::ofstream out(path, std::ios::binary);
    const uint64_t n = header.size();
    for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
    out << header << std::string(data_bytes, '\0');
}

// Sets a lower host-memory limit for one test and restores the machine's afterwards.
struct MemoryLimitScope {
    explicit MemoryLimitScope(uint64_t bytes) { set_host_memory_limit(bytes); }
    ~MemoryLimitScope() { set_host_memory_limit(0); }
};

}  // namespace

TEST_CASE("safetensors: wrong types in the header name the tensor, the key and the byte offset") {
    testing::TempDir tmp("messages-safetensors");
    const std::string path = tmp.str("w.safetensors");
    struct Case {
        std::string header, expected;
    };
    const std::vector<Case> cases = {
        {R"({"w":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", "'dtype' is 7, expected a string"},
        {R"({"w":{"dtype":"F32","shape":"2x2","data_offsets":[0,4]}})",
         "'shape' is \"2x2\", expected a list of non-negative integers"},
        {R"({"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}})", "expected a list of non-negative"},
        {R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", "'data_offsets' is an array, expected [begin, end]"},
        {R"({"w":{"dtype":"F32","shape":[1]}})", "has no 'data_offsets'"},
        {R"({"w":[1,2]})", "is an array, expected an object with dtype, shape and data_offsets"},
        {R"({"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}})", "impossibly large"},
        {R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[4,0]}})", "do not match its shape [2]"},
    };
    for (const Case& c : cases) {
        CAPTURE(c.header);
        write_safetensors_raw(path, c.header, 4);
        const std::string msg = message_of([&] { load_safetensors(path); });
        CHECK(has(msg, path));
        CHECK(has(msg, "tensor 'w' (file byte 9)"));  // the key "w" starts at byte 8 + 1
        CHECK(has(msg, c.expected));
        check_no_library_text(msg);
    }
    write_safetensors_raw(path, R"({"__metadata__":{"epochs_done":3}})", 0);
    std::string msg = message_of([&] { load_safetensors(path); });
    CHECK(has(msg, "metadata key 'epochs_done' (file byte 25) is 3, expected a string"));
    write_safetensors_raw(path, R"([1, 2])", 0);
    msg = message_of([&] { load_safetensors(path); });
    CHECK(has(msg, "the header is an array, expected a JSON object of tensors"));
    write_safetensors_raw(path, R"({"w": {"dtype": x}})", 0);
    msg = message_of([&] { load_safetensors(path); });
    CHECK(has(msg, "is not valid JSON, at file byte 24"));
    check_no_library_text(msg);
}

TEST_CASE("a folder where a file should be is named as such") {
    testing::TempDir tmp("messages-folder");
    fs::create_directories(tmp.path / "model.safetensors");
    std::string msg = message_of([&] { load_safetensors(tmp.str("model.safetensors")); });
    CHECK(msg == "checkpoint: " + tmp.str("model.safetensors") + ": is a folder, expected a file");

    fs::create_directories(tmp.path / "test_batch.bin");
    msg = message_of([&] { data::load_cifar10(tmp.str(), false); });
    CHECK(msg == "cifar10: " + tmp.str("test_batch.bin") + ": is a folder, expected a file");
    check_no_library_text(msg);

    fs::remove(tmp.path / "test_batch.bin");
    std::ofstream(tmp.path / "test_batch.bin", std::ios::binary) << std::string(3073, '\1');
    fs::create_directories(tmp.path / "batches.meta.txt");
    msg = message_of([&] { data::load_cifar10(tmp.str(), false); });
    CHECK(msg == "cifar10: " + tmp.str("batches.meta.txt") + ": is a folder, expected a file");

    fs::create_directories(tmp.path / "images" / "cat" / "a.png");
    msg = message_of([&] { data::load_image_folder(tmp.str("images"), 3, 8, 8); });
    CHECK(has(msg, "has no PNG, JPEG or BMP files"));  // a folder named a.png is not an image
    check_no_library_text(msg);
}

TEST_CASE("a symbolic link loop is named, not reported by the library") {
    testing::TempDir tmp("messages-loop");
    fs::create_symlink(tmp.path / "b", tmp.path / "a");
    fs::create_symlink(tmp.path / "a", tmp.path / "b");
    const std::string loop = tmp.str("a");
    std::vector<std::string> messages = {
        message_of([&] { load_safetensors(loop); }),
        message_of([&] { data::load_fashion_mnist(loop, true); }),
        message_of([&] { data::load_cifar10(loop, true); }),
        message_of([&] { data::load_image_folder(loop, 3, 8, 8); }),
        message_of([&] { data::read_idx(loop, 1); }),
        message_of([&] { recover_file_group(loop); }),
    };
    for (const std::string& msg : messages) {
        CHECK(has(msg, loop + ": a symbolic link loop"));
        check_no_library_text(msg);
    }
    // Inside a data folder: a class folder, and an image, that loop.
    fs::create_directories(tmp.path / "pets" / "cat");
    fs::create_symlink(tmp.path / "pets" / "dog", tmp.path / "pets" / "dog");
    std::string msg = message_of([&] { data::load_image_folder(tmp.str("pets"), 3, 8, 8); });
    CHECK(has(msg, tmp.str("pets/dog") + ": a symbolic link loop"));
    fs::remove(tmp.path / "pets" / "dog");
    fs::create_symlink(tmp.path / "pets" / "cat" / "x.png", tmp.path / "pets" / "cat" / "x.png");
    msg = message_of([&] { data::load_image_folder(tmp.str("pets"), 3, 8, 8); });
    CHECK(has(msg, tmp.str("pets/cat/x.png") + ": a symbolic link loop"));
    // A training-set file of an IDX folder.
    fs::create_directories(tmp.path / "mnist");
    fs::create_symlink(tmp.path / "mnist" / "train-images-idx3-ubyte.gz",
                       tmp.path / "mnist" / "train-images-idx3-ubyte.gz");
    msg = message_of([&] { data::load_mnist(tmp.str("mnist"), true); });
    CHECK(has(msg, "train-images-idx3-ubyte.gz: a symbolic link loop"));
    check_no_library_text(msg);
}

TEST_CASE("paths and class names that are not UTF-8 are refused with the bad byte shown") {
    CHECK(!invalid_utf8_offset("caf\xc3\xa9/\xe2\x82\xac"));
    CHECK(invalid_utf8_offset("ab\xff") == 2u);
    CHECK(invalid_utf8_offset("\xc0\xaf") == 0u);       // an overlong '/'
    CHECK(invalid_utf8_offset("x\xed\xa0\x80") == 1u);  // a UTF-16 surrogate
    CHECK(invalid_utf8_offset("\xe2\x82") == 0u);       // cut short
    CHECK(printable("a\xff\n") == "a\\xff\\x0a");

    std::string msg = message_of([] { data::parse_dataset_spec("folder:/data/caf\xe9"); });
    CHECK(has(msg, "'/data/caf\\xe9' is not valid UTF-8 (byte 0xe9 at offset 9)"));

    testing::TempDir tmp("messages-utf8");
    fs::create_directories(tmp.path / "pets" / "caf\xe9");
    std::ofstream(tmp.path / "pets" / "caf\xe9" / "x.png") << "not read";
    msg = message_of([&] { data::load_image_folder(tmp.str("pets"), 3, 8, 8); });
    CHECK(has(msg, "class folder name"));
    CHECK(has(msg, "'caf\\xe9' is not valid UTF-8"));
    CHECK(has(msg, "rename it"));
}

TEST_CASE("an oversized allocation is refused with the bytes it needs, before it is made") {
    // A tensor past the machine's memory: the number of bytes, not std::bad_alloc.
    std::string msg = message_of([] { Tensor::empty({1 << 20, 1 << 20}); });
    CHECK(has(msg, "a f32 tensor of shape [1048576, 1048576] needs 4398046511104 bytes (4.0 TiB)"));
    CHECK(has(msg, "this process may use"));
    msg = message_of([] { Tensor::empty({int64_t(1) << 40, int64_t(1) << 40}); });
    CHECK(has(msg, "more elements than 64-bit sizes can count"));
    {
        MemoryLimitScope limit(uint64_t(64) << 20);
        msg = message_of([] { Tensor::empty({4096, 8192}); });  // 128 MiB
        CHECK(has(msg, "a f32 tensor of shape [4096, 8192] needs 134217728 bytes (128.0 MiB)"));
        CHECK(has(msg, "more than the 64.0 MiB this process may use (the limit set for this process)"));
        // Each tensor fits, all of them together do not: what is already held counts.
        const Tensor held = Tensor::empty({10 << 20});  // 40 MiB
        msg = message_of([] { Tensor::empty({10 << 20}); });
        CHECK(has(msg, "needs 41943040 bytes (40.0 MiB), with "));
        CHECK(has(msg, "already held by kelvin's tensors, more than the 64.0 MiB"));
    }
    CHECK(Tensor::empty({4096, 8192}).numel() == 4096 * 8192);

    // An image whose header claims 30000x30000 pixels, in 54 bytes of BMP.
    testing::TempDir tmp("messages-oversized");
    std::vector<uint8_t> bmp = {'B', 'M'};
    auto put32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) bmp.push_back(static_cast<uint8_t>(v >> (8 * i))); };
    auto put16 = [&](uint16_t v) { bmp.push_back(v & 0xff); bmp.push_back(v >> 8); };
    put32(54); put32(0); put32(54);
    put32(40); put32(30000); put32(30000); put16(1); put16(24); put32(0); put32(0);
    put32(0); put32(0); put32(0); put32(0);
    fs::create_directories(tmp.path / "big" / "cat");
    std::ofstream(tmp.path / "big" / "cat" / "a.bmp", std::ios::binary)
        .write(reinterpret_cast<const char*>(bmp.data()), static_cast<std::streamsize>(bmp.size()));
    {
        MemoryLimitScope limit(uint64_t(1) << 30);
        msg = message_of([&] { data::load_image_folder(tmp.str("big"), 3, 0, 0); });
        CHECK(has(msg, tmp.str("big/cat/a.bmp") + ": decoding its 30000x30000 pixels needs 3600000000 bytes"));
        check_no_library_text(msg);
    }
}

// ---- findings of the fuzzers (scripts/fuzz.sh), kept as regression tests ----------------------

TEST_CASE("fuzz finding (image): a BMP whose header gives height 0 is an error, not a resize of nothing") {
    // fuzz_image's input, less its mode byte: width 4456450, height 0, 24 bits per pixel. The
    // resize read from before the image (undefined behaviour, UBSan: pointer overflow).
    const std::vector<uint8_t> bmp = {
        0x42, 0x4d, 0x46, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x36, 0x00, 0x00, 0x00, 0x28,
        0x00, 0x00, 0x00, 0x02, 0x00, 0x44, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x18, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x36, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x80, 0x80, 0x80, 0xff, 0x00, 0x00, 0x00};
    testing::TempDir tmp("fuzz-finding-image");
    fs::create_directories(tmp.path / "pets" / "cat");
    std::ofstream(tmp.path / "pets" / "cat" / "a.png", std::ios::binary)
        .write(reinterpret_cast<const char*>(bmp.data()), static_cast<std::streamsize>(bmp.size()));
    for (int side : {0, 8}) {
        const std::string msg = message_of([&] { data::load_image_folder(tmp.str("pets"), 3, side, side); });
        CHECK(has(msg, tmp.str("pets/cat/a.png") + ": the image header gives an empty size 4456450x0"));
    }
}

TEST_CASE("fuzz finding (JSON readers): no [json.exception...] text, and bytes that are not UTF-8 escaped") {
    testing::TempDir tmp("fuzz-finding-json");
    // config.json, empty: load_run_config quoted nlohmann's message whole.
    std::ofstream(tmp.path / "config.json") << "";
    std::string msg = message_of([&] { experiments::load_run_config(tmp.str()); });
    CHECK(has(msg, tmp.str("config.json") + ": parse error at line 1, column 1"));
    check_no_library_text(msg);
    // A safetensors header whose bad string quotes bytes that are not UTF-8.
    write_safetensors_raw(tmp.str("w.safetensors"), "{\"w\xff\xfe\": 1}", 0);
    msg = message_of([&] { load_safetensors(tmp.str("w.safetensors")); });
    CHECK(has(msg, "is not valid JSON"));
    CHECK(!invalid_utf8_offset(msg));
    CHECK(has(msg, "\\xff"));
}

TEST_CASE("fuzz finding (safetensors): a header number too large for any type is an Error") {
    // fuzz_safetensors: nlohmann's out_of_range.406 ("number overflow") escaped load_safetensors.
    testing::TempDir tmp("fuzz-finding-number");
    write_safetensors_raw(tmp.str("w.safetensors"), "801E66666", 0);
    std::string msg = message_of([&] { load_safetensors(tmp.str("w.safetensors")); });
    CHECK(has(msg, "the header (file bytes 8-17) cannot be read: number overflow"));
    write_safetensors_raw(tmp.str("w.safetensors"), R"({"w":{"dtype":"F32","shape":[1e999],"data_offsets":[0,4]}})", 4);
    msg = message_of([&] { load_safetensors(tmp.str("w.safetensors")); });
    check_no_library_text(msg);
}

TEST_CASE("fuzz finding (image): stb's reason, which quotes a PNG chunk name, is escaped to UTF-8") {
    // fuzz_image's input, less its mode byte: a 2x2 PNG with a chunk named "I\xbc\xc4T".
    const std::vector<uint8_t> png = {
0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d,
  0x49, 0x48, 0x44, 0x52, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x02,
  0x08, 0x02, 0x00, 0x00, 0x00, 0xfd, 0xd4, 0x9a, 0x73, 0x00, 0x00, 0x00,
  0x14, 0x49, 0xbc, 0xc4, 0x54, 0x78, 0x5e, 0x63, 0xf8, 0xcf, 0xc0, 0x00,
  0xc4, 0xcc, 0x8d, 0x0c, 0xff, 0x1b, 0x18, 0x19, 0x01, 0x1e, 0x92, 0x04,
  0x04, 0x50, 0x98, 0x3e, 0x0b, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e,
  0x44, 0xae, 0x42, 0x60, 0x82
    };
    testing::TempDir tmp("fuzz-finding-png");
    fs::create_directories(tmp.path / "pets" / "cat");
    std::ofstream(tmp.path / "pets" / "cat" / "a.png", std::ios::binary)
        .write(reinterpret_cast<const char*>(png.data()), static_cast<std::streamsize>(png.size()));
    const std::string msg = message_of([&] { data::load_image_folder(tmp.str("pets"), 3, 0, 0); });
    CHECK(has(msg, "cannot decode image: I\\xbc\\xc4T PNG chunk not known"));
    CHECK(!invalid_utf8_offset(msg));
}
