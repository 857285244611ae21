// Image folders: one sub-folder per class holding PNG, JPEG or BMP files.
#pragma once

#include <cstdint>
#include <string>

#include "data/host_dataset.h"

namespace kelvin::data {

// Loads root/<class>/<image> for every sub-folder of `root`. Class folders sorted by name give the
// label indices (hidden entries, starting with '.', are skipped); inside a class, files with the
// extensions .png .jpg .jpeg .bmp (any case) are read in name order, other files are ignored.
// Images are decoded with stb_image forcing `channels` (1 = grayscale, 3 = RGB) and resized to
// height x width with bilinear interpolation; height = width = 0 takes the size of the first image
// of the first class. Errors name the folder or file and, for an undecodable image, stb's reason.
HostDataset load_image_folder(const std::string& root, int channels, int height, int width);

// The train or test part of an image folder:
// - if root/train/ and root/test/ both exist, loads that sub-folder (both must hold the same class
//   folders, so that labels agree);
// - otherwise splits root deterministically: within each class, files sorted by name, the 5th, 10th,
//   15th ... file (index % 5 == 4) is a test image and every other file a train image, so 20% go
//   to test and a class with fewer than 5 images has none there.
HostDataset load_image_folder_split(const std::string& root, bool train, int channels, int height, int width);

// Resizes an interleaved (HWC) 8-bit image with bilinear interpolation. Pixel centres are aligned
// (PyTorch's align_corners=false), edges are clamped, and equal sizes copy exactly.
void resize_bilinear(const uint8_t* src, int src_height, int src_width, int channels, uint8_t* dst,
                     int dst_height, int dst_width);

}  // namespace kelvin::data
