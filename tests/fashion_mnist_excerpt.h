// The first records of Debian's Fashion-MNIST written to a folder of its own in the IDX layout
// (uncompressed), for tests whose cost is the data rather than what they check: a run on the
// CUDA emulator evaluates 5,000 test images in about 40 s, 500 in 4. Pass the folder as
// --data-dir (and --ood-data-dir). Needs kHaveFashionMnist (tests/cli_runner.h).
#pragma once

#include <zlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

namespace kelvin::testing {

namespace detail {

// The first `records` records of the gzipped IDX file `from` (header `header_bytes` long, its
// count at offset 4, `record_bytes` per record) into the uncompressed file `to`.
inline void copy_idx_records(const std::string& from, const std::string& to, int64_t records,
                             int header_bytes, int64_t record_bytes) {
    gzFile in = gzopen(from.c_str(), "rb");
    if (!in) throw std::runtime_error("cannot open " + from);
    std::vector<unsigned char> bytes(header_bytes + records * record_bytes);
    const int got = gzread(in, bytes.data(), static_cast<unsigned>(bytes.size()));
    gzclose(in);
    if (got != static_cast<int>(bytes.size()))
        throw std::runtime_error(from + ": fewer than " + std::to_string(records) + " records");
    for (int i = 0; i < 4; ++i)  // the record count, big-endian
        bytes[4 + i] = static_cast<unsigned char>(uint32_t(records) >> (24 - 8 * i));
    std::ofstream(to, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

}  // namespace detail

// `train` training and `test` test records (all ten classes, in the file's order) into `dir`.
inline void write_fashion_mnist_excerpt(const std::filesystem::path& dir, int64_t train,
                                        int64_t test) {
    const std::string source = "/usr/share/datasets/fashion-mnist/";
    std::filesystem::create_directories(dir);
    for (const auto& [prefix, records] : {std::pair<std::string, int64_t>{"train", train},
                                          std::pair<std::string, int64_t>{"t10k", test}}) {
        detail::copy_idx_records(source + prefix + "-images-idx3-ubyte.gz",
                                 (dir / (prefix + "-images-idx3-ubyte")).string(), records, 16,
                                 28 * 28);
        detail::copy_idx_records(source + prefix + "-labels-idx1-ubyte.gz",
                                 (dir / (prefix + "-labels-idx1-ubyte")).string(), records, 8, 1);
    }
}

}  // namespace kelvin::testing
