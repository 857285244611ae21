#include "engine/paths.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <system_error>

#include "engine/device.h"

namespace kelvin {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail(const std::string& context, const std::string& path, const std::string& what) {
    throw Error(context + ": " + printable(path) + ": " + what);
}

// The file status of `path`, or an Error for what std::filesystem would throw about.
fs::file_status status_of(const std::string& path, const std::string& context) {
    std::error_code ec;
    const fs::file_status s = fs::status(path, ec);
    if (!ec || s.type() == fs::file_type::not_found) return s;
    if (ec.value() == ELOOP)
        fail(context, path, "a symbolic link loop (too many levels of symbolic links); point the "
                            "link at a real file or folder");
    if (ec.value() == ENAMETOOLONG) fail(context, path, "the path is longer than the system allows");
    fail(context, path, "cannot be looked at: " + ec.message());
}

}  // namespace

void require_regular_file(const std::string& path, const std::string& context) {
    const fs::file_status s = status_of(path, context);
    if (s.type() == fs::file_type::not_found) fail(context, path, "does not exist");
    if (s.type() == fs::file_type::directory) fail(context, path, "is a folder, expected a file");
    if (s.type() != fs::file_type::regular) fail(context, path, "is not a regular file");
}

void require_folder(const std::string& path, const std::string& context) {
    const fs::file_status s = status_of(path, context);
    if (s.type() == fs::file_type::not_found) fail(context, path, "does not exist");
    if (s.type() != fs::file_type::directory) fail(context, path, "is not a folder");
}

bool is_folder(const std::string& path, const std::string& context) {
    return status_of(path, context).type() == fs::file_type::directory;
}

bool path_exists(const std::string& path, const std::string& context) {
    return status_of(path, context).type() != fs::file_type::not_found;
}

std::optional<size_t> invalid_utf8_offset(std::string_view text) {
    const auto* s = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    for (size_t i = 0; i < n;) {
        const unsigned char c = s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xe ? 3 : (c >> 3) == 0x1e ? 4 : 0;
        if (len == 0 || i + len > n) return i;
        for (size_t k = 1; k < len; ++k)
            if ((s[i + k] & 0xc0) != 0x80) return i;
        // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are not UTF-8 either.
        const unsigned c1 = len > 1 ? s[i + 1] : 0;
        if ((len == 2 && c < 0xc2) || (len == 3 && c == 0xe0 && c1 < 0xa0) ||
            (len == 3 && c == 0xed && c1 >= 0xa0) || (len == 4 && c == 0xf0 && c1 < 0x90) ||
            (len == 4 && (c > 0xf4 || (c == 0xf4 && c1 >= 0x90))))
            return i;
        i += len;
    }
    return std::nullopt;
}

std::string printable(std::string_view text) {
    std::string out;
    for (size_t i = 0; i < text.size();) {
        const auto bad = invalid_utf8_offset(text.substr(i));
        const size_t good = bad ? *bad : text.size() - i;
        for (size_t k = i; k < i + good; ++k) {
            const unsigned char c = static_cast<unsigned char>(text[k]);
            if (c < 0x20 || c == 0x7f) {
                char hex[8];
                std::snprintf(hex, sizeof hex, "\\x%02x", c);
                out += hex;
            } else {
                out += static_cast<char>(c);
            }
        }
        i += good;
        if (bad) {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(text[i]));
            out += hex;
            ++i;
        }
    }
    return out;
}

void require_utf8(const std::string& path, const std::string& what) {
    const auto bad = invalid_utf8_offset(path);
    if (!bad) return;
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", static_cast<unsigned char>(path[*bad]));
    throw Error(what + " '" + printable(path) + "' is not valid UTF-8 (byte " + hex + " at offset " +
                std::to_string(*bad) + "); kelvin records paths and class names in JSON files, "
                "which hold UTF-8 only: rename it, or use a symbolic link with a UTF-8 name");
}

size_t name_max_at(const std::string& path) {
    fs::path at = fs::path(path).parent_path();
    std::error_code ec;
    while (!at.empty() && !fs::is_directory(at, ec)) at = at.parent_path();
    const long limit = ::pathconf(at.empty() ? "." : at.c_str(), _PC_NAME_MAX);
    return limit > 0 ? static_cast<size_t>(limit) : 255;
}

void require_name_lengths(const std::string& path, const std::string& what, size_t reserve) {
    const size_t limit = name_max_at(path);
    for (const auto& part : fs::path(path)) {
        const std::string name = part.string();
        if (name.size() + reserve > limit)
            throw Error(what + " '" + printable(path) + "': the name '" + printable(name) + "' is " +
                        std::to_string(name.size()) + " bytes" +
                        (reserve ? " (+" + std::to_string(reserve) + " for kelvin's suffixes)" : "") +
                        ", and this file system allows at most " + std::to_string(limit) +
                        " bytes per name; choose a shorter one");
    }
}

}  // namespace kelvin
