// Checks on paths a user gave, with messages they can act on. std::filesystem reports a folder
// where a file should be, a symbolic link loop or a missing permission as "filesystem error:
// status: ..." or, later, "basic_filebuf::underflow"; these checks say which path and what was
// expected before anything is read.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace kelvin {

// Throws kelvin::Error "<context>: <path>: <what is wrong>" unless `path` names a readable
// regular file (after following symbolic links): missing, a folder, a symbolic link loop, or
// a path the OS refuses to look at are each named as such.
void require_regular_file(const std::string& path, const std::string& context);
// The same for a folder.
void require_folder(const std::string& path, const std::string& context);
// Whether `path` names a folder; false when it does not exist. A symbolic link loop or an
// unreadable path is an Error naming it, not an exception from the library.
bool is_folder(const std::string& path, const std::string& context);
// Whether something exists at `path` (a dangling symbolic link counts as nothing), with the
// same errors.
bool path_exists(const std::string& path, const std::string& context);

// The offset of the first byte of `text` that is not part of valid UTF-8, or nullopt.
std::optional<size_t> invalid_utf8_offset(std::string_view text);
// `text` with bytes that are not valid UTF-8, and control characters, written as \xNN, so a
// message that quotes a path can be printed and stored in JSON.
std::string printable(std::string_view text);
// Throws kelvin::Error unless `path` is valid UTF-8: kelvin records paths and class names in
// JSON files, which hold UTF-8 only. `what` names where the path came from.
void require_utf8(const std::string& path, const std::string& what);

// The longest file name (one path component, in bytes) the file system holding `path` (or its
// nearest existing folder) allows: NAME_MAX, usually 255.
size_t name_max_at(const std::string& path);
// Throws kelvin::Error naming `what`, the component, its length and the limit unless every
// component of `path`, `reserve` bytes longer (for suffixes kelvin adds, e.g. ".kelvin-staged"
// to file names inside), fits the file system: rather than "File name too long" from the
// library after work was done.
void require_name_lengths(const std::string& path, const std::string& what, size_t reserve = 0);

}  // namespace kelvin
