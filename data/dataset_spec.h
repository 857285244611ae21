// Data set specs as written on the command line, e.g. "cifar10:classes=0-4" or "folder:/data/pets".
#pragma once

#include <string>
#include <vector>

#include "data/host_dataset.h"

namespace kelvin::data {

struct DatasetSpec {
    std::string kind;          // "fashion-mnist" | "mnist" | "cifar10" | "cifar100" | "folder"
    std::string path;          // the folder root for kind "folder", else empty
    std::vector<int> classes;  // the class subset in the given order; empty = all classes
    std::string text;          // the spec as written
};

// Parses `fashion-mnist`, `mnist`, `cifar10`, `cifar100` or `folder:PATH`, each optionally followed
// by `:classes=LIST`, where LIST is comma-separated numbers and inclusive ranges (`0-4`, `0,3,7`,
// `0-2,5`). A class may appear only once. Errors name the spec and the allowed forms.
DatasetSpec parse_dataset_spec(const std::string& text);

// Loads the train or test split named by `spec`, then applies its class subset.
// Data directories: a non-empty `data_dir` is used as given; otherwise fashion-mnist reads
// /usr/share/datasets/fashion-mnist, mnist /usr/share/datasets/mnist, cifar10
// ./data/cifar-10-batches-bin and cifar100 ./data/cifar-100-binary. A folder spec reads its own
// path (data_dir is ignored) through load_image_folder_split, with channels_hint (0 = 3, RGB) and
// height_hint x width_hint (0x0 = the first image's size). The hints are ignored by the fixed-size
// data sets; callers compare the returned shape with what their model expects.
HostDataset load_dataset(const DatasetSpec& spec, const std::string& data_dir, bool train,
                         int channels_hint = 0, int height_hint = 0, int width_hint = 0);

}  // namespace kelvin::data
