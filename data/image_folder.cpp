#include "data/image_folder.h"

#include <stb/stb_image.h>  // the implementation lives in libstb.so

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>

#include "engine/memory_limit.h"
#include "engine/paths.h"

namespace kelvin::data {

namespace fs = std::filesystem;

namespace {

const std::string kFormats = "PNG, JPEG or BMP files (.png .jpg .jpeg .bmp)";

bool is_image_file(const fs::path& p) {
    std::string ext = p.extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp";
}

bool is_hidden(const fs::path& p) { return p.filename().string().rfind('.', 0) == 0; }

struct FolderListing {
    std::vector<std::string> class_names;
    std::vector<std::vector<fs::path>> files;  // per class, sorted by name
    int64_t skipped = 0;                       // entries of class folders that are not images
    fs::path skipped_example;                  // the first of them, by name
};

void check_root(const std::string& root) {
    require_utf8(root, "folder: the image folder path");
    if (!path_exists(root, "folder")) throw Error("folder: image folder " + root + " does not exist");
    if (!is_folder(root, "folder")) throw Error("folder: image folder " + root + " is not a directory");
}

// The entries of a folder, sorted by name; errors (a folder that cannot be read) name it.
std::vector<fs::path> entries_of(const fs::path& dir) {
    std::vector<fs::path> entries;
    std::error_code ec;
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec))
        if (!is_hidden(it->path())) entries.push_back(it->path());
    if (ec) throw Error("folder: cannot list " + printable(dir.string()) + ": " + ec.message());
    std::sort(entries.begin(), entries.end());
    return entries;
}

FolderListing list_folder(const std::string& root) {
    check_root(root);
    std::vector<fs::path> class_dirs;
    // is_folder names a symbolic link loop instead of letting the library throw about it.
    for (const fs::path& entry : entries_of(root))
        if (is_folder(entry.string(), "folder")) class_dirs.push_back(entry);
    if (class_dirs.empty())
        throw Error("folder: " + root + " has no class sub-folders; expected one folder per class, e.g. " +
                    (fs::path(root) / "cat" / "0001.png").string());
    FolderListing listing;
    for (const fs::path& dir : class_dirs) {
        // Class names are written into JSON files (diagnostics, the report), which hold UTF-8.
        require_utf8(dir.filename().string(), "folder: the class folder name of " + printable(dir.string()) + ",");
        std::vector<fs::path> files;
        for (const fs::path& entry : entries_of(dir)) {
            if (is_image_file(entry) && path_exists(entry.string(), "folder") &&
                !is_folder(entry.string(), "folder")) {
                require_regular_file(entry.string(), "folder");
                files.push_back(entry);
            } else {
                // Nested folders and other files are not read; the user is told how many.
                ++listing.skipped;
                if (listing.skipped_example.empty() || entry < listing.skipped_example)
                    listing.skipped_example = entry;
            }
        }
        if (files.empty()) throw Error("folder: class folder " + dir.string() + " has no " + kFormats);
        std::sort(files.begin(), files.end());
        listing.class_names.push_back(dir.filename().string());
        listing.files.push_back(std::move(files));
    }
    return listing;
}

void check_shape(const std::string& name, int channels, int height, int width) {
    if (channels != 1 && channels != 3)
        throw Error(name + ": " + std::to_string(channels) +
                    " channels requested; expected 1 (grayscale) or 3 (RGB)");
    if (height < 0 || width < 0 || (height == 0) != (width == 0))
        throw Error(name + ": image size " + std::to_string(height) + "x" + std::to_string(width) +
                    " requested; expected positive height and width, or 0x0 for the first image's size");
}

struct ImageSize {
    int height = 0, width = 0;
};

// An image's size from its header, checked against memory before anything is decoded: stb
// allocates what the header claims, and a few corrupt bytes can claim gigabytes.
ImageSize image_size_of(const std::string& path, int channels = 4) {
    int w = 0, h = 0, file_channels = 0;
    if (!stbi_info(path.c_str(), &w, &h, &file_channels)) {
        const char* reason = stbi_failure_reason();
        throw Error("folder: " + printable(path) + ": cannot decode image: " + (reason ? printable(reason) : std::string("unknown reason")));
    }
    if (w <= 0 || h <= 0)
        throw Error("folder: " + printable(path) + ": the image header gives an empty size " +
                    std::to_string(w) + "x" + std::to_string(h));
    check_host_allocation(uint64_t(w) * uint64_t(h) * uint64_t(channels),
                          "folder: " + printable(path) + ": decoding its " + std::to_string(w) + "x" +
                              std::to_string(h) + " pixels");
    return {h, w};
}

// The requested size, or with 0x0 the size of the first image of the first class, so that train
// and test splits agree.
void resolve_size(const FolderListing& listing, int& height, int& width) {
    if (height != 0) return;
    const ImageSize size = image_size_of(listing.files[0][0].string());
    height = size.height;
    width = size.width;
}

// Decodes and resizes the files of `listing` for which keep(index within class) is true.
HostDataset decode_listing(const std::string& name, const FolderListing& listing,
                           const std::function<bool(size_t)>& keep, int channels, int height, int width) {
    resolve_size(listing, height, width);

    HostDataset d;
    d.name = name;
    d.channels = channels;
    d.height = height;
    d.width = width;
    d.num_classes = static_cast<int>(listing.class_names.size());
    d.class_names = listing.class_names;
    if (listing.skipped > 0)
        d.notes.push_back(name + ": skipped " + std::to_string(listing.skipped) +
                          " entr" + (listing.skipped == 1 ? "y" : "ies") +
                          " of class folders that are not " + kFormats + " (sub-folders are not "
                          "read either), e.g. " + listing.skipped_example.string());
    uint64_t kept = 0;
    for (const auto& files : listing.files)
        for (size_t i = 0; i < files.size(); ++i) kept += keep(i) ? 1 : 0;
    check_host_allocation(kept * uint64_t(d.image_size()),
                          name + ": " + std::to_string(kept) + " images of " + std::to_string(channels) +
                              "x" + std::to_string(height) + "x" + std::to_string(width) + " pixels");
    std::vector<uint8_t> resized;
    for (size_t c = 0; c < listing.files.size(); ++c) {
        for (size_t i = 0; i < listing.files[c].size(); ++i) {
            if (!keep(i)) continue;
            const std::string path = listing.files[c][i].string();
            image_size_of(path, channels);
            int w = 0, h = 0, file_channels = 0;
            std::unique_ptr<uint8_t, void (*)(void*)> image(
                stbi_load(path.c_str(), &w, &h, &file_channels, channels), stbi_image_free);
            if (!image) {
                const char* reason = stbi_failure_reason();
                throw Error("folder: " + path + ": cannot decode image: " + (reason ? printable(reason) : std::string("unknown reason")));
            }
            // The header stbi_info read can differ from what stbi_load decoded (a file that
            // changed, a format whose info and load paths disagree): never resize from nothing.
            if (w <= 0 || h <= 0)
                throw Error("folder: " + printable(path) + ": decoded to an empty " + std::to_string(w) +
                            "x" + std::to_string(h) + " image");
            resized.resize(static_cast<size_t>(d.image_size()));
            resize_bilinear(image.get(), h, w, channels, resized.data(), static_cast<int>(d.height),
                            static_cast<int>(d.width));
            // HWC -> CHW
            const int64_t plane = d.height * d.width;
            const size_t base = d.pixels.size();
            d.pixels.resize(base + static_cast<size_t>(d.image_size()));
            for (int64_t p = 0; p < plane; ++p)
                for (int ch = 0; ch < channels; ++ch) d.pixels[base + ch * plane + p] = resized[p * channels + ch];
            d.labels.push_back(static_cast<int32_t>(c));
        }
    }
    d.count = static_cast<int64_t>(d.labels.size());
    return d;
}

}  // namespace

void resize_bilinear(const uint8_t* src, int src_height, int src_width, int channels, uint8_t* dst,
                     int dst_height, int dst_width) {
    if (src_height == dst_height && src_width == dst_width) {
        std::copy(src, src + static_cast<size_t>(src_height) * src_width * channels, dst);
        return;
    }
    // Source coordinate of a destination pixel centre, clamped to the image: index pair and weight.
    auto axis = [](int dst_size, int src_size) {
        struct Tap { int lo, hi; float frac; };
        std::vector<Tap> taps(dst_size);
        const float scale = static_cast<float>(src_size) / static_cast<float>(dst_size);
        for (int i = 0; i < dst_size; ++i) {
            float s = std::clamp((i + 0.5f) * scale - 0.5f, 0.0f, static_cast<float>(src_size - 1));
            int lo = static_cast<int>(s);
            taps[i] = {lo, std::min(lo + 1, src_size - 1), s - static_cast<float>(lo)};
        }
        return taps;
    };
    const auto ys = axis(dst_height, src_height);
    const auto xs = axis(dst_width, src_width);
    for (int y = 0; y < dst_height; ++y) {
        const uint8_t* row0 = src + static_cast<size_t>(ys[y].lo) * src_width * channels;
        const uint8_t* row1 = src + static_cast<size_t>(ys[y].hi) * src_width * channels;
        const float fy = ys[y].frac;
        for (int x = 0; x < dst_width; ++x) {
            const float fx = xs[x].frac;
            const int x0 = xs[x].lo * channels, x1 = xs[x].hi * channels;
            for (int c = 0; c < channels; ++c) {
                float top = row0[x0 + c] + fx * (row0[x1 + c] - row0[x0 + c]);
                float bottom = row1[x0 + c] + fx * (row1[x1 + c] - row1[x0 + c]);
                float v = top + fy * (bottom - top);
                dst[(static_cast<size_t>(y) * dst_width + x) * channels + c] =
                    static_cast<uint8_t>(std::clamp(std::lround(v), 0L, 255L));
            }
        }
    }
}

HostDataset load_image_folder(const std::string& root, int channels, int height, int width) {
    check_shape("folder:" + root, channels, height, width);
    return decode_listing("folder:" + root, list_folder(root), [](size_t) { return true; }, channels, height, width);
}

HostDataset load_image_folder_split(const std::string& root, bool train, int channels, int height, int width) {
    check_root(root);
    check_shape("folder:" + root, channels, height, width);
    const fs::path train_dir = fs::path(root) / "train", test_dir = fs::path(root) / "test";
    if (is_folder(train_dir.string(), "folder") && is_folder(test_dir.string(), "folder")) {
        FolderListing train_listing = list_folder(train_dir.string());
        FolderListing test_listing = list_folder(test_dir.string());
        if (train_listing.class_names != test_listing.class_names) {
            auto join = [](const std::vector<std::string>& v) {
                std::string s;
                for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
                return s;
            };
            throw Error("folder: " + root + ": train/ and test/ must hold the same class folders; train/ has " +
                        join(train_listing.class_names) + "; test/ has " + join(test_listing.class_names));
        }
        resolve_size(train_listing, height, width);
        return decode_listing("folder:" + root, train ? train_listing : test_listing,
                              [](size_t) { return true; }, channels, height, width);
    }
    HostDataset d = decode_listing("folder:" + root, list_folder(root),
                                   [train](size_t i) { return (i % 5 == 4) != train; }, channels, height, width);
    if (d.count == 0)
        throw Error("folder: " + root + ": the test split is empty; every 5th image of each class goes to test, "
                    "and no class folder has 5 images");
    return d;
}

}  // namespace kelvin::data
