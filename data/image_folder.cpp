#include "data/image_folder.h"

#include <stb/stb_image.h>  // the implementation lives in libstb.so

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <functional>
#include <memory>

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
    if (!fs::exists(root)) throw Error("folder: image folder " + root + " does not exist");
    if (!fs::is_directory(root)) throw Error("folder: image folder " + root + " is not a directory");
}

FolderListing list_folder(const std::string& root) {
    check_root(root);
    std::vector<fs::path> class_dirs;
    for (const auto& entry : fs::directory_iterator(root))
        if (entry.is_directory() && !is_hidden(entry.path())) class_dirs.push_back(entry.path());
    if (class_dirs.empty())
        throw Error("folder: " + root + " has no class sub-folders; expected one folder per class, e.g. " +
                    (fs::path(root) / "cat" / "0001.png").string());
    std::sort(class_dirs.begin(), class_dirs.end());

    FolderListing listing;
    for (const fs::path& dir : class_dirs) {
        std::vector<fs::path> files;
        for (const auto& entry : fs::directory_iterator(dir)) {
            if (is_hidden(entry.path())) continue;
            if (entry.is_regular_file() && is_image_file(entry.path())) {
                files.push_back(entry.path());
            } else {
                // Nested folders and other files are not read; the user is told how many.
                ++listing.skipped;
                if (listing.skipped_example.empty() || entry.path() < listing.skipped_example)
                    listing.skipped_example = entry.path();
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

// The requested size, or with 0x0 the size of the first image of the first class, so that train
// and test splits agree.
void resolve_size(const FolderListing& listing, int& height, int& width) {
    if (height != 0) return;
    const std::string path = listing.files[0][0].string();
    int file_channels = 0;
    if (!stbi_info(path.c_str(), &width, &height, &file_channels)) {
        const char* reason = stbi_failure_reason();
        throw Error("folder: " + path + ": cannot decode image: " + (reason ? reason : "unknown reason"));
    }
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
    std::vector<uint8_t> resized;
    for (size_t c = 0; c < listing.files.size(); ++c) {
        for (size_t i = 0; i < listing.files[c].size(); ++i) {
            if (!keep(i)) continue;
            const std::string path = listing.files[c][i].string();
            int w = 0, h = 0, file_channels = 0;
            std::unique_ptr<uint8_t, void (*)(void*)> image(
                stbi_load(path.c_str(), &w, &h, &file_channels, channels), stbi_image_free);
            if (!image) {
                const char* reason = stbi_failure_reason();
                throw Error("folder: " + path + ": cannot decode image: " + (reason ? reason : "unknown reason"));
            }
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
    if (fs::is_directory(train_dir) && fs::is_directory(test_dir)) {
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
