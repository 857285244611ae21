#include "data/dataset_spec.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <set>

#include "data/cifar.h"
#include "data/idx.h"
#include "data/image_folder.h"
#include "engine/paths.h"

namespace kelvin::data {

namespace {

const char* kAllowedForms =
    "expected fashion-mnist, mnist, cifar10, cifar100 or folder:PATH, optionally followed by "
    ":classes=LIST with LIST of numbers and ranges, e.g. :classes=0-4, :classes=0,3,7 or :classes=0-2,5";

[[noreturn]] void fail(const std::string& text, const std::string& what) {
    throw Error("dataset spec '" + printable(text) + "': " + printable(what) + "; " + kAllowedForms);
}

std::string trim(const std::string& s) {
    const auto begin = s.find_first_not_of(" \t");
    if (begin == std::string::npos) return "";
    return s.substr(begin, s.find_last_not_of(" \t") + 1 - begin);
}

int parse_class_number(const std::string& text, const std::string& item, const std::string& number) {
    if (number.empty() || number.size() > 5 ||
        !std::all_of(number.begin(), number.end(), [](unsigned char c) { return std::isdigit(c); }))
        fail(text, "bad class list entry '" + item + "' (not a number or range a-b)");
    return std::stoi(number);
}

std::vector<int> parse_class_list(const std::string& text, const std::string& list) {
    std::vector<int> classes;
    std::set<int> seen;
    size_t start = 0;
    for (;;) {
        const size_t comma = list.find(',', start);
        const std::string item = trim(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
        if (item.empty()) fail(text, "empty entry in class list '" + list + "'");
        const size_t dash = item.find('-');
        int first, last;
        if (dash == std::string::npos) {
            first = last = parse_class_number(text, item, item);
        } else {
            first = parse_class_number(text, item, trim(item.substr(0, dash)));
            last = parse_class_number(text, item, trim(item.substr(dash + 1)));
            if (first > last) fail(text, "class range '" + item + "' runs backwards");
        }
        for (int c = first; c <= last; ++c) {
            if (!seen.insert(c).second)
                fail(text, "class " + std::to_string(c) + " listed twice");
            classes.push_back(c);
        }
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return classes;
}

std::string default_dir(const std::string& kind) {
    if (kind == "fashion-mnist") return "/usr/share/datasets/fashion-mnist";
    if (kind == "mnist") return "/usr/share/datasets/mnist";
    if (kind == "cifar10") return "data/cifar-10-batches-bin";
    return "data/cifar-100-binary";
}

}  // namespace

DatasetSpec parse_dataset_spec(const std::string& text) {
    DatasetSpec spec;
    spec.text = text;
    std::string base = text;
    const std::string option = ":classes=";
    const size_t at = text.rfind(option);
    if (at != std::string::npos) {
        base = text.substr(0, at);
        spec.classes = parse_class_list(text, text.substr(at + option.size()));
    }
    if (base.empty()) fail(text, "no data set named");
    if (base.rfind("folder:", 0) == 0) {
        spec.kind = "folder";
        spec.path = base.substr(7);
        if (spec.path.empty()) fail(text, "folder: needs a path");
        if (invalid_utf8_offset(spec.path))
            require_utf8(spec.path, "dataset spec '" + printable(text) + "': the folder path");
        return spec;
    }
    if (base == "folder") fail(text, "folder needs a path, as in folder:PATH");
    const size_t colon = base.find(':');
    const std::string kind = base.substr(0, colon);
    if (kind != "fashion-mnist" && kind != "mnist" && kind != "cifar10" && kind != "cifar100")
        fail(text, "unknown data set '" + kind + "'");
    if (colon != std::string::npos) fail(text, "unknown option '" + base.substr(colon + 1) + "'");
    spec.kind = kind;
    return spec;
}

HostDataset load_dataset(const DatasetSpec& spec, const std::string& data_dir, bool train, int channels_hint,
                         int height_hint, int width_hint) {
    HostDataset d;
    if (spec.kind == "folder") {
        d = load_image_folder_split(spec.path, train, channels_hint == 0 ? 3 : channels_hint, height_hint,
                                    width_hint);
    } else {
        std::string dir = data_dir.empty() ? default_dir(spec.kind) : data_dir;
        if (data_dir.empty() && !path_exists(dir, spec.kind))
            throw Error(spec.kind + ": no data directory given and the default " + dir +
                        " does not exist; pass the directory holding the " + spec.kind + " files");
        if (spec.kind == "fashion-mnist")
            d = load_fashion_mnist(dir, train);
        else if (spec.kind == "mnist")
            d = load_mnist(dir, train);
        else if (spec.kind == "cifar10")
            d = load_cifar10(dir, train);
        else if (spec.kind == "cifar100")
            d = load_cifar100(dir, train);
        else
            throw Error("dataset spec '" + spec.text + "': unknown kind '" + spec.kind + "'; " + kAllowedForms);
    }
    if (spec.classes.empty()) return d;
    for (int c : spec.classes)
        if (c >= d.num_classes)
            throw Error("dataset spec '" + spec.text + "': class " + std::to_string(c) + " out of range; " +
                        d.name + " has " + std::to_string(d.num_classes) + " classes (0-" +
                        std::to_string(d.num_classes - 1) + ")");
    return select_classes(d, spec.classes);
}

}  // namespace kelvin::data
