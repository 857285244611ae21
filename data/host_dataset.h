// A labelled image data set held in host memory as raw bytes, as every reader in data/ returns it.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "engine/device.h"

namespace kelvin::data {

struct HostDataset {            // images as bytes, NCHW, row-major
    std::string name;           // e.g. "fashion-mnist", "cifar10", "folder:/path"
    int64_t count = 0, channels = 0, height = 0, width = 0;
    std::vector<uint8_t> pixels;  // count*channels*height*width
    std::vector<int32_t> labels;  // count, in [0, num_classes)
    int num_classes = 0;
    std::vector<std::string> class_names;  // may be empty
    // What the reader passed over that a user may have meant to include (e.g. files of an image
    // folder that are not images); the CLI prints each once.
    std::vector<std::string> notes;
    int64_t image_size() const { return channels * height * width; }
};

// Prints each distinct note of these data sets to stderr once, as "note: ...".
inline void print_notes(std::initializer_list<const HostDataset*> sets) {
    std::set<std::string> printed;
    for (const HostDataset* d : sets)
        for (const std::string& note : d->notes)
            if (printed.insert(note).second) std::fprintf(stderr, "note: %s\n", note.c_str());
}

// Keeps only samples whose label is in `classes` (in the given order) and re-indexes labels
// from 0 in that order; class_names follow. Sample order is kept.
inline HostDataset select_classes(const HostDataset& d, const std::vector<int>& classes) {
    std::vector<int> new_label(d.num_classes, -1);
    for (size_t i = 0; i < classes.size(); ++i) {
        int c = classes[i];
        if (c < 0 || c >= d.num_classes)
            throw Error(d.name + ": class " + std::to_string(c) + " out of range; the data set has " +
                        std::to_string(d.num_classes) + " classes (0-" +
                        std::to_string(d.num_classes - 1) + ")");
        if (new_label[c] != -1)
            throw Error(d.name + ": class " + std::to_string(c) + " selected twice");
        new_label[c] = static_cast<int>(i);
    }
    HostDataset out;
    out.name = d.name;
    out.channels = d.channels;
    out.height = d.height;
    out.width = d.width;
    out.num_classes = static_cast<int>(classes.size());
    out.notes = d.notes;
    if (!d.class_names.empty())
        for (int c : classes) out.class_names.push_back(d.class_names[c]);
    const int64_t image_size = d.image_size();
    for (int64_t i = 0; i < d.count; ++i) {
        int label = new_label[d.labels[i]];
        if (label < 0) continue;
        out.labels.push_back(label);
        out.pixels.insert(out.pixels.end(), d.pixels.begin() + i * image_size,
                          d.pixels.begin() + (i + 1) * image_size);
    }
    out.count = static_cast<int64_t>(out.labels.size());
    return out;
}

}  // namespace kelvin::data
