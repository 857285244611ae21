// Files that are either wholly the old version or wholly the new one, whatever moment a process
// dies at (power loss included): written under a temporary name, synced, renamed, and the
// folder synced. The engine's checkpoints and every JSON/CSV/HTML file the application writes
// go through here.
#pragma once

#include <filesystem>
#include <string>

namespace kelvin {

// Writes `text` to path atomically (temporary file in the same folder, synced, then rename).
void write_file_atomically(const std::string& path, const std::string& text);

// Flushes a file's or a folder's data to the disk, so that a rename that follows is never
// persisted before the bytes it publishes.
void sync_path(const std::filesystem::path& path, bool folder);

// The folder a rename of `path` must sync: its parent, or "." for a bare file name.
std::filesystem::path parent_folder(const std::filesystem::path& path);

}  // namespace kelvin
