#include "engine/atomic_file.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>

#include "kernels/error.h"

namespace kelvin {

void sync_path(const std::filesystem::path& path, bool folder) {
    const int fd = ::open(path.c_str(), folder ? O_RDONLY | O_DIRECTORY : O_RDONLY);
    KELVIN_CHECK(fd >= 0, "cannot open " + path.string() + " to sync it");
    const int rc = ::fsync(fd);
    ::close(fd);
    KELVIN_CHECK(rc == 0, "fsync failed: " + path.string());
}

std::filesystem::path parent_folder(const std::filesystem::path& path) {
    return path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
}

void write_file_atomically(const std::string& path, const std::string& text) {
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        KELVIN_CHECK(out.good(), "cannot write " + tmp);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        out.flush();
        KELVIN_CHECK(out.good(), "write failed: " + tmp);
    }
    sync_path(tmp, false);
    std::filesystem::rename(tmp, path);
    sync_path(parent_folder(path), true);
}

}  // namespace kelvin
