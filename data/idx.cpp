#include "data/idx.h"

#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include "engine/memory_limit.h"
#include "engine/paths.h"

namespace kelvin::data {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& context, const std::string& path, const std::string& what) {
    throw Error(context + ": " + path + ": " + what);
}

std::string hex32(uint32_t v) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08x", v);
    return buf;
}

uint32_t read_be32(const uint8_t* p) {
    return (uint32_t(p[0]) << 24) | (uint32_t(p[1]) << 16) | (uint32_t(p[2]) << 8) | uint32_t(p[3]);
}

std::vector<uint8_t> read_plain(const std::string& path, const std::string& context) {
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec) fail(context, path, "cannot read its size: " + ec.message());
    check_host_allocation(size, context + ": " + printable(path));
    std::ifstream in(path, std::ios::binary);
    if (!in) fail(context, path, "cannot open file");
    std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) fail(context, path, "read error");
    return bytes;
}

std::vector<uint8_t> read_gzip(const std::string& path, const std::string& context) {
    gzFile f = gzopen(path.c_str(), "rb");
    if (!f) fail(context, path, "cannot open file");
    gzbuffer(f, 1 << 20);
    std::vector<uint8_t> bytes;
    const size_t chunk = 1 << 20;
    for (;;) {
        size_t old = bytes.size();
        check_host_allocation(old + chunk, context + ": " + printable(path) + ": its gzip data, decompressed,");
        bytes.resize(old + chunk);
        int n = gzread(f, bytes.data() + old, static_cast<unsigned>(chunk));
        if (n < 0) break;  // the error is reported below
        bytes.resize(old + static_cast<size_t>(n));
        if (n == 0) break;
    }
    int err = Z_OK;
    const char* msg = gzerror(f, &err);
    std::string message = msg ? msg : "";
    gzclose(f);
    // A truncated stream reads as a short read plus Z_BUF_ERROR ("unexpected end of file").
    if (err != Z_OK && err != Z_STREAM_END)
        fail(context, path, "gzip data corrupt or truncated after " + std::to_string(bytes.size()) +
                                " decompressed bytes: " + message);
    return bytes;
}

const char* describe_dims(int dims) {
    return dims == 1 ? "a label file" : dims == 3 ? "an image file" : "unsigned-byte IDX";
}

HostDataset load_idx_dataset(const std::string& dir, bool train, const std::string& name,
                             std::vector<std::string> class_names) {
    if (!path_exists(dir, name)) throw Error(name + ": data directory " + printable(dir) + " does not exist");
    if (!is_folder(dir, name)) throw Error(name + ": data directory " + printable(dir) + " is not a directory");
    auto find = [&](const std::string& base) {
        std::string path = (fs::path(dir) / base).string();
        if (path_exists(path + ".gz", name)) return path + ".gz";
        if (path_exists(path, name)) return path;
        throw Error(name + ": missing file " + path + "(.gz)");
    };
    const std::string prefix = train ? "train" : "t10k";
    const std::string images_path = find(prefix + "-images-idx3-ubyte");
    const std::string labels_path = find(prefix + "-labels-idx1-ubyte");
    IdxArray images = read_idx(images_path, 3, name);
    IdxArray labels = read_idx(labels_path, 1, name);
    if (images.dims[0] != labels.dims[0])
        throw Error(name + ": " + labels_path + " has " + std::to_string(labels.dims[0]) + " labels, but " +
                    images_path + " has " + std::to_string(images.dims[0]) + " images");
    if (images.dims[0] == 0) fail(name, images_path, "no images");
    if (images.dims[1] == 0 || images.dims[2] == 0)
        fail(name, images_path, "empty image size " + std::to_string(images.dims[1]) + "x" +
                                    std::to_string(images.dims[2]));

    HostDataset d;
    d.name = name;
    d.count = images.dims[0];
    d.channels = 1;
    d.height = images.dims[1];
    d.width = images.dims[2];
    d.pixels = std::move(images.values);
    d.num_classes = 10;
    d.class_names = std::move(class_names);
    d.labels.resize(d.count);
    for (int64_t i = 0; i < d.count; ++i) {
        int label = labels.values[i];
        if (label >= d.num_classes)
            fail(name, labels_path, "label " + std::to_string(label) + " at index " + std::to_string(i) +
                                        " (byte offset " + std::to_string(8 + i) +
                                        ") out of range 0-9");
        d.labels[i] = label;
    }
    return d;
}

}  // namespace

std::vector<uint8_t> read_file_maybe_gzip(const std::string& path, const std::string& context) {
    unsigned char magic[2] = {0, 0};
    // Reading a folder or a symbolic link loop fails deep in the stream library, with no file name.
    require_regular_file(path, context);
    {
        std::ifstream in(path, std::ios::binary);
        if (!in) fail(context, path, "cannot open file");
        in.read(reinterpret_cast<char*>(magic), 2);
    }
    return magic[0] == 0x1f && magic[1] == 0x8b ? read_gzip(path, context) : read_plain(path, context);
}

IdxArray read_idx(const std::string& path, int expected_dims, const std::string& context) {
    const std::vector<uint8_t> bytes = read_file_maybe_gzip(path, context);
    const uint32_t expected_magic = 0x800u + static_cast<uint32_t>(expected_dims);
    if (bytes.size() < 4)
        fail(context, path, std::to_string(bytes.size()) + " bytes, too short for an IDX header; expected magic " +
                                hex32(expected_magic) + " (" + describe_dims(expected_dims) + ")");
    const uint32_t magic = read_be32(bytes.data());
    if (magic != expected_magic) {
        std::string found = hex32(magic);
        if (bytes[0] == 0 && bytes[1] == 0 && bytes[2] == 0x08)
            found += std::string(" (") + (bytes[3] == 1 || bytes[3] == 3 ? describe_dims(bytes[3]) : "unsigned byte") +
                     " with " + std::to_string(bytes[3]) + " dimensions)";
        else if (bytes[0] == 0 && bytes[1] == 0)
            found += " (element type 0x" + hex32(bytes[2]).substr(8) + ", not 0x08 unsigned byte)";
        else
            found += " (not an IDX file)";
        fail(context, path, "magic " + found + ", expected " + hex32(expected_magic) + " (" +
                                describe_dims(expected_dims) + ")");
    }
    const size_t header = 4 + 4 * static_cast<size_t>(expected_dims);
    if (bytes.size() < header)
        fail(context, path, std::to_string(bytes.size()) + " bytes, too short for the " + std::to_string(header) +
                                "-byte IDX header");

    IdxArray a;
    uint64_t data_size = 1;
    std::string shape;
    for (int i = 0; i < expected_dims; ++i) {
        uint32_t dim = read_be32(bytes.data() + 4 + 4 * i);
        a.dims.push_back(dim);
        shape += (i ? "x" : "") + std::to_string(dim);
        if (dim != 0 && data_size > (std::numeric_limits<uint64_t>::max() >> 1) / dim)
            fail(context, path, "header dimensions " + shape + "... describe an impossibly large array");
        data_size *= dim;
    }
    const uint64_t expected = header + data_size;
    if (bytes.size() != expected) {
        std::string what;
        if (expected_dims == 3)
            what = std::to_string(a.dims[0]) + " " + std::to_string(a.dims[1]) + "x" + std::to_string(a.dims[2]) +
                   " images";
        else if (expected_dims == 1)
            what = std::to_string(a.dims[0]) + " labels";
        else
            what = "a " + shape + " array";
        fail(context, path, std::to_string(expected) + " bytes expected for " + what + " (" +
                                std::to_string(header) + "-byte header + " + std::to_string(data_size) +
                                " data bytes), found " + std::to_string(bytes.size()) +
                                (bytes.size() < expected ? " (file truncated)" : " (trailing bytes)"));
    }
    a.values.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header), bytes.end());
    return a;
}

HostDataset load_fashion_mnist(const std::string& dir, bool train) {
    return load_idx_dataset(dir, train, "fashion-mnist",
                            {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
                             "Sneaker", "Bag", "Ankle boot"});
}

HostDataset load_mnist(const std::string& dir, bool train) {
    return load_idx_dataset(dir, train, "mnist", {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"});
}

}  // namespace kelvin::data
