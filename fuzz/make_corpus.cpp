// Writes the seed corpus of every fuzz target into DIR/<target>/: tiny valid inputs made with
// kelvin's own writers, so each target starts from files its parser accepts.
//   build-fuzz/fuzz/fuzz_make_corpus fuzz/corpus
#include <stb/stb_image_write.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "engine/checkpoint.h"
#include "experiments/train.h"

namespace fs = std::filesystem;
using Bytes = std::vector<uint8_t>;

namespace {

fs::path g_root;

void write(const std::string& target, const std::string& name, const Bytes& bytes) {
    fs::create_directories(g_root / target);
    std::ofstream out(g_root / target / name, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

void write_text(const std::string& target, const std::string& name, const std::string& text) {
    write(target, name, Bytes(text.begin(), text.end()));
}

Bytes file_bytes(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

Bytes gzip(const Bytes& raw) {
    const fs::path tmp = g_root / "tmp.gz";
    gzFile f = gzopen(tmp.c_str(), "wb9");
    gzwrite(f, raw.data(), static_cast<unsigned>(raw.size()));
    gzclose(f);
    Bytes out = file_bytes(tmp);
    fs::remove(tmp);
    return out;
}

void put_be32(Bytes& b, uint32_t v) {
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(v >> s));
}

void idx_seeds() {
    Bytes labels, images;
    put_be32(labels, 0x801);
    put_be32(labels, 2);
    labels.insert(labels.end(), {3, 7});
    put_be32(images, 0x803);
    for (uint32_t v : {2u, 2u, 2u}) put_be32(images, v);
    for (int i = 0; i < 8; ++i) images.push_back(static_cast<uint8_t>(i * 30));
    auto with_length = [](const Bytes& first, const Bytes& second) {
        Bytes b = {static_cast<uint8_t>(first.size())};
        b.insert(b.end(), first.begin(), first.end());
        b.insert(b.end(), second.begin(), second.end());
        return b;
    };
    write("idx", "folder", with_length(labels, images));
    write("idx", "folder-gzip", with_length(gzip(labels), gzip(images)));
    write("idx", "labels", with_length(Bytes(), labels));
    write("idx", "images", with_length(Bytes(), images));
}

void cifar_seeds() {
    for (int layout = 0; layout < 3; ++layout) {
        Bytes b = {static_cast<uint8_t>(layout)};
        b.push_back(3);
        if (layout > 0) b.push_back(42);
        for (int i = 0; i < 3072; ++i) b.push_back(static_cast<uint8_t>(i % 251));
        write("cifar", "layout-" + std::to_string(layout), b);
    }
}

void image_seeds() {
    const Bytes rgb = {255, 0, 0, 0, 255, 0, 0, 0, 255, 128, 128, 128};
    const fs::path tmp = g_root / "tmp-image";
    auto seed = [&](const std::string& name, uint8_t mode, auto writer) {
        writer(tmp.c_str());
        Bytes b = {mode};
        Bytes file = file_bytes(tmp);
        b.insert(b.end(), file.begin(), file.end());
        write("image", name, b);
        fs::remove(tmp);
    };
    seed("png-rgb", 1, [&](const char* p) { stbi_write_png(p, 2, 2, 3, rgb.data(), 6); });
    seed("png-gray-resized", 2, [&](const char* p) { stbi_write_png(p, 2, 2, 1, rgb.data(), 2); });
    seed("bmp", 3, [&](const char* p) { stbi_write_bmp(p, 2, 2, 3, rgb.data()); });
    seed("jpeg", 1, [&](const char* p) { stbi_write_jpg(p, 2, 2, 3, rgb.data(), 90); });
    seed("tga", 0, [&](const char* p) { stbi_write_tga(p, 2, 2, 3, rgb.data()); });
}

void safetensors_seeds() {
    using namespace kelvin;
    const fs::path tmp = g_root / "tmp.safetensors";
    save_safetensors(tmp.string(),
                     {{"layer.weight", Tensor::from_vector(std::vector<float>{1, -2, 3, 4}, {2, 2})},
                      {"counts", Tensor::from_vector(std::vector<int32_t>{7, 8, 9}, {3})}},
                     {{"format", "pt"}, {"epochs_done", "2"}});
    write("safetensors", "two-tensors", file_bytes(tmp));
    save_safetensors(tmp.string(), {});
    write("safetensors", "empty", file_bytes(tmp));
    fs::remove(tmp);
    const std::string header = R"({"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})";
    Bytes b;
    for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>((header.size() >> (8 * i)) & 0xff));
    b.insert(b.end(), header.begin(), header.end());
    b.insert(b.end(), 8, 0);
    write("safetensors", "batch-counter", b);
}

void journal_seeds() {
    // The staged file the target writes beside the journal: {"epoch": 1}\n, 13 bytes.
    const std::string text = "{\"epoch\": 1}\n";
    const uLong crc = crc32(0, reinterpret_cast<const Bytef*>(text.data()), static_cast<uInt>(text.size()));
    write_text("checkpoint_journal", "v2",
               "{\"kelvin_file_group\":2,\"files\":[{\"name\":\"metrics.json\",\"bytes\":13,\"crc32\":" +
                   std::to_string(crc) + "}]}\n");
    write_text("checkpoint_journal", "v1", "[\"metrics.json\"]\n");
}

void json_seeds() {
    using namespace kelvin::experiments;
    write_text("dataset_spec", "plain", "fashion-mnist");
    write_text("dataset_spec", "classes", "cifar10:classes=0-2,5,7");
    write_text("dataset_spec", "folder", "folder:/data/pets:classes=1,0");
    TrainConfig c;
    c.out = "runs/a";
    write_text("config_json", "default", config_to_json(c).dump(2));
    c.model = "resnet18";
    c.dataset = "cifar10:classes=0-4";
    c.optimizer = "adamw";
    c.model_options.base_width = 16;
    write_text("config_json", "resnet", config_to_json(c).dump(2));
    write_text("sweep_json", "small",
               R"({"models": ["mlp"], "datasets": ["fashion-mnist:classes=0-1"], "temperatures": [1, 10],)"
               R"( "seeds": [1, 2], "epochs": 1, "width": 16, "diagnose": false})");
    write_text("sweep_json", "missing-data", R"({"models": ["vit"], "datasets": ["cifar10"], "patch": 4})");
    write_text("metrics_json", "complete",
               R"({"status": "complete", "init": {"test_loss": 2.3, "test_acc": 0.1},)"
               R"( "epochs": [{"epoch": 1, "train_loss": 0.9, "test_acc": 0.7}],)"
               R"( "final": {"test_acc": 0.7, "logits_norm": 3.5, "logits_norm_init": 1.0, "seconds": 4.2}})");
    write_text("metrics_json", "diverged", R"({"status": "diverged", "diverged_at_step": 17, "epochs": []})");
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_DIR\n", argv[0]);
        return 2;
    }
    g_root = argv[1];
    idx_seeds();
    cifar_seeds();
    image_seeds();
    safetensors_seeds();
    journal_seeds();
    json_seeds();
    return 0;
}
