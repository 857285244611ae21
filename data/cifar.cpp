#include "data/cifar.h"

#include <filesystem>
#include <fstream>

#include "engine/memory_limit.h"
#include "engine/paths.h"

namespace kelvin::data {

namespace fs = std::filesystem;

namespace {

constexpr int64_t kPixelsPerImage = 3 * 32 * 32;

const std::vector<std::string> kCifar10Names = {"airplane", "automobile", "bird", "cat",  "deer",
                                                "dog",      "frog",       "horse", "ship", "truck"};

const std::vector<std::string> kCifar100FineNames = {
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle",
    "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle",
    "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur",
    "dolphin", "elephant", "flatfish", "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard",
    "lamp", "lawn_mower", "leopard", "lion", "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain",
    "mouse", "mushroom", "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road", "rocket",
    "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake", "spider",
    "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank", "telephone", "television", "tiger", "tractor",
    "train", "trout", "tulip", "turtle", "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm"};

const std::vector<std::string> kCifar100CoarseNames = {
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes", "large_omnivores_and_herbivores",
    "medium_mammals", "non-insect_invertebrates", "people", "reptiles", "small_mammals", "trees",
    "vehicles_1", "vehicles_2"};

// One label byte inside a record, with the range it must lie in.
struct LabelField {
    int offset;
    int num_classes;
    const char* what;  // "label", "coarse label", "fine label"
};

struct CifarLayout {
    std::string name;        // "cifar10" | "cifar100"
    std::string subfolder;   // accepted below the given dir
    int record_size;         // label bytes + 3072
    std::vector<LabelField> labels;  // all are validated
    int used_label;          // index into `labels` of the one returned
    std::string names_file;  // optional class-name list, one per line
    const std::vector<std::string>* default_names;
};

std::string resolve_dir(const CifarLayout& layout, const std::string& dir) {
    if (!path_exists(dir, layout.name))
        throw Error(layout.name + ": data directory " + printable(dir) + " does not exist");
    if (!is_folder(dir, layout.name))
        throw Error(layout.name + ": data directory " + printable(dir) + " is not a directory");
    fs::path nested = fs::path(dir) / layout.subfolder;
    return is_folder(nested.string(), layout.name) ? nested.string() : dir;
}

// Appends the records of one batch file to `d`.
void read_batch(const CifarLayout& layout, const std::string& path, HostDataset& d) {
    if (!path_exists(path, layout.name)) throw Error(layout.name + ": missing file " + printable(path));
    require_regular_file(path, layout.name);
    std::error_code ec;
    const uint64_t size = fs::file_size(path, ec);
    if (ec) throw Error(layout.name + ": " + printable(path) + ": cannot read its size: " + ec.message());
    if (size == 0 || size % layout.record_size != 0)
        throw Error(layout.name + ": " + path + ": " + std::to_string(size) + " bytes, expected a " +
                    (size == 0 ? "non-zero " : "") + "multiple of " + std::to_string(layout.record_size) +
                    " (" + (layout.record_size == 3073 ? "1 label byte" : "2 label bytes") + " + 3072 pixels per image)");
    check_host_allocation(size, layout.name + ": " + printable(path));
    std::vector<uint8_t> bytes(size);
    std::ifstream in(path, std::ios::binary);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(size)))
        throw Error(layout.name + ": " + path + ": read error");

    const int64_t records = static_cast<int64_t>(size / layout.record_size);
    const int label_bytes = layout.record_size - static_cast<int>(kPixelsPerImage);
    d.pixels.reserve(d.pixels.size() + records * kPixelsPerImage);
    for (int64_t r = 0; r < records; ++r) {
        const uint8_t* record = bytes.data() + r * layout.record_size;
        for (const LabelField& field : layout.labels) {
            int label = record[field.offset];
            if (label >= field.num_classes)
                throw Error(layout.name + ": " + path + ": record " + std::to_string(r) + " (byte offset " +
                            std::to_string(r * layout.record_size) + "): " + field.what + " " +
                            std::to_string(label) + " out of range 0-" + std::to_string(field.num_classes - 1));
        }
        d.labels.push_back(record[layout.labels[layout.used_label].offset]);
        d.pixels.insert(d.pixels.end(), record + label_bytes, record + layout.record_size);
    }
    d.count += records;
}

std::vector<std::string> read_class_names(const CifarLayout& layout, const std::string& dir, int num_classes) {
    const std::string path = (fs::path(dir) / layout.names_file).string();
    if (!path_exists(path, layout.name)) return *layout.default_names;
    require_regular_file(path, layout.name);
    std::ifstream in(path);
    std::vector<std::string> names;
    for (std::string line; std::getline(in, line);) {
        const auto begin = line.find_first_not_of(" \t\r");
        if (begin == std::string::npos) continue;
        names.push_back(line.substr(begin, line.find_last_not_of(" \t\r") + 1 - begin));
    }
    if (static_cast<int>(names.size()) != num_classes)
        throw Error(layout.name + ": " + path + ": " + std::to_string(names.size()) +
                    " class names, expected " + std::to_string(num_classes) + " (one per line)");
    return names;
}

HostDataset load_cifar(const CifarLayout& layout, const std::string& dir, const std::vector<std::string>& files) {
    const std::string root = resolve_dir(layout, dir);
    HostDataset d;
    d.name = layout.name;
    d.channels = 3;
    d.height = 32;
    d.width = 32;
    d.num_classes = layout.labels[layout.used_label].num_classes;
    for (const std::string& file : files) read_batch(layout, (fs::path(root) / file).string(), d);
    d.class_names = read_class_names(layout, root, d.num_classes);
    return d;
}

}  // namespace

HostDataset load_cifar10(const std::string& dir, bool train) {
    CifarLayout layout{"cifar10", "cifar-10-batches-bin", 1 + 3072, {{0, 10, "label"}}, 0,
                       "batches.meta.txt", &kCifar10Names};
    std::vector<std::string> files;
    if (train)
        for (int i = 1; i <= 5; ++i) files.push_back("data_batch_" + std::to_string(i) + ".bin");
    else
        files.push_back("test_batch.bin");
    return load_cifar(layout, dir, files);
}

HostDataset load_cifar100(const std::string& dir, bool train, bool coarse) {
    CifarLayout layout{"cifar100", "cifar-100-binary", 2 + 3072,
                       {{0, 20, "coarse label"}, {1, 100, "fine label"}}, coarse ? 0 : 1,
                       coarse ? "coarse_label_names.txt" : "fine_label_names.txt",
                       coarse ? &kCifar100CoarseNames : &kCifar100FineNames};
    return load_cifar(layout, dir, {train ? "train.bin" : "test.bin"});
}

}  // namespace kelvin::data
