// What every kelvin parser promises for any input, checked by each fuzz target: it returns, or
// throws kelvin::Error with a message free of library text. Anything else is a finding and
// aborts, so libFuzzer keeps the input: a sanitizer report (out-of-bounds access, undefined
// behaviour), another exception escaping (nlohmann's, std::bad_alloc, filesystem_error), or a
// message quoting a library ("[json.exception...", "basic_filebuf::underflow").
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "engine/device.h"
#include "engine/memory_limit.h"
#include "engine/paths.h"

namespace kelvin::fuzz {

// A folder of this process's own for the files a target writes (parsers read paths).
inline const std::filesystem::path& scratch() {
    static const std::filesystem::path dir = [] {
        const char* base = std::getenv("TMPDIR");
        std::filesystem::path d = std::filesystem::path(base && *base ? base : "/tmp") /
                                  ("kelvin-fuzz-" + std::to_string(::getpid()));
        std::filesystem::remove_all(d);
        std::filesystem::create_directories(d);
        // Tensors past 256 MiB in all are refused by kelvin's own check (engine/memory_limit.h),
        // far below libFuzzer's -malloc_limit_mb and -rss_limit_mb, so a hostile size is an
        // Error, not an out-of-memory finding, and a large but valid model cannot time out.
        set_host_memory_limit(uint64_t(256) << 20);
        return d;
    }();
    return dir;
}

inline std::string write_file(const std::string& name, const uint8_t* data, size_t size) {
    const std::filesystem::path path = scratch() / name;
    std::filesystem::create_directories(path.parent_path());
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    return path.string();
}

[[noreturn]] inline void finding(const char* what, const std::string& detail) {
    std::fprintf(stderr, "kelvin fuzz finding: %s: %s\n", what, detail.c_str());
    std::abort();
}

// A message must hold no library text (unless the input itself held those words, which a
// message may quote, as they are or escaped by printable()) and must be valid UTF-8, so that it
// can be stored in a JSON file.
inline void check_message(const std::string& message, std::string_view input) {
    const std::string escaped = printable(input);
    for (const char* raw : {"[json.exception", "basic_filebuf", "filesystem error", "map::at",
                            "stoll", "stoi", "std::bad_alloc", "basic_string"})
        if (message.find(raw) != std::string::npos && input.find(raw) == std::string_view::npos &&
            escaped.find(raw) == std::string::npos)
            finding("library text in a kelvin::Error", message);
    if (invalid_utf8_offset(message)) finding("a kelvin::Error that is not valid UTF-8", printable(message));
}

// Runs one parse of `input`; only kelvin::Error, with a clean message, may leave it.
template <class F>
void expect_kelvin_errors_only(const uint8_t* data, size_t size, F&& parse) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    try {
        parse();
    } catch (const Error& e) {
        check_message(e.what(), input);
    } catch (const std::exception& e) {
        finding("a non-kelvin exception escaped", e.what());
    } catch (...) {
        finding("a non-kelvin exception escaped", "(not a std::exception)");
    }
}

}  // namespace kelvin::fuzz
