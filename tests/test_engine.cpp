// Tensors, storage, loaders and checkpoints: the plumbing under every op.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>

#include "data/loader.h"
#include "engine/atomic_file.h"
#include "engine/checkpoint.h"
#include "engine/nn/linear.h"
#include "engine/ops.h"
#include "models/registry.h"
#include "tests/cli_runner.h"

using namespace kelvin;

TEST_CASE("cpu buffers are 64-byte aligned and row windows share storage") {
    for (int64_t n : {1, 3, 17, 100000}) {
        Tensor t = Tensor::empty({n});
        CHECK(reinterpret_cast<uintptr_t>(t.f32()) % 64 == 0);
    }
    Tensor t = Tensor::from_vector(std::vector<float>{0, 1, 2, 3, 4, 5}, {3, 2});
    Tensor middle = t.rows(1, 2);
    CHECK(middle.shape() == Shape{1, 2});
    CHECK(middle.to_vector() == std::vector<float>{2, 3});
    middle.f32()[0] = 9;
    CHECK(t.to_vector()[2] == 9);
    CHECK_THROWS_AS(t.rows(2, 4), Error);
}

TEST_CASE("copies, clones and views") {
    Tensor a = Tensor::from_vector(std::vector<float>{1, 2, 3, 4}, {2, 2});
    Tensor b = a.clone();
    b.f32()[0] = 7;
    CHECK(a.to_vector()[0] == 1);
    CHECK(a.view({4}).shape() == Shape{4});
    CHECK_THROWS_AS(a.view({3}), Error);
    CHECK_THROWS_AS(ops::reshape(a, {3, -1}), Error);
    CHECK(ops::reshape(a, {-1}).shape() == Shape{4});
    if (!cuda_built()) CHECK_THROWS_WITH_AS(Tensor::empty({2}, DType::F32, Device::CUDA),
                                            doctest::Contains("no CUDA backend"), Error);
}

TEST_CASE("linear init follows PyTorch's bound 1/sqrt(fan_in), times init_scale") {
    nn::Generator gen(3);
    nn::Linear layer(100, 50, true, 2.0f, gen);
    float bound = 2.0f / 10.0f, max_abs = 0;
    for (float v : layer.weight->to_vector()) max_abs = std::max(max_abs, std::fabs(v));
    CHECK(max_abs <= bound);
    CHECK(max_abs > 0.9f * bound);  // 5000 draws nearly reach the bound
    CHECK(layer.weight->requires_grad());
}

TEST_CASE("model parameter names follow PyTorch's state_dict convention") {
    models::ModelOptions o;
    o.depth = 3;
    o.width = 8;
    auto model = models::build_model("mlp", o);
    std::vector<std::string> names;
    for (auto& p : model->named_parameters()) names.push_back(p.name);
    CHECK(names == std::vector<std::string>{"hidden.0.weight", "hidden.0.bias", "hidden.1.weight",
                                            "hidden.1.bias", "classifier.weight",
                                            "classifier.bias"});
    std::vector<Tensor> probes;
    Tensor logits = model->forward(Tensor::zeros({2, 1, 28, 28}), &probes);
    CHECK(logits.shape() == Shape{2, 10});
    CHECK(probes.size() == model->probe_names().size());
    CHECK(probes.back().shape() == Shape{2, 8});
}

TEST_CASE("safetensors round trip keeps names, shapes, values and metadata") {
    kelvin::testing::TempDir tmp("safetensors");
    const std::string path = tmp.str("w.safetensors");
    Tensor a = Tensor::from_vector(std::vector<float>{1.5f, -2, 3}, {3});
    Tensor b = Tensor::from_vector(std::vector<int32_t>{7, 8, 9, 10}, {2, 2});
    save_safetensors(path, {{"layer.weight", a}, {"counts", b}}, {{"format", "pt"}});
    CHECK(!std::filesystem::exists(path + ".tmp"));
    SafetensorsFile f = load_safetensors(path);
    CHECK(f.metadata.at("format") == "pt");
    CHECK(f.tensors.at("layer.weight").to_vector() == a.to_vector());
    CHECK(f.tensors.at("counts").shape() == Shape{2, 2});
    CHECK(f.tensors.at("counts").to_int_vector() == b.to_int_vector());
    // PyTorch's int64 BatchNorm counters are skipped; other int64 tensors are refused.
    {
        auto write_raw = [&](const std::string& file, const std::string& header, size_t bytes) {
            std::ofstream out(file, std::ios::binary);
            uint64_t n = header.size();
            for (int i = 0; i < 8; ++i) out.put(static_cast<char>((n >> (8 * i)) & 0xff));
            out << header << std::string(bytes, '\0');
        };
        write_raw(tmp.str("counter.safetensors"),
                  R"({"bn.num_batches_tracked":{"dtype":"I64","shape":[],"data_offsets":[0,8]}})", 8);
        CHECK(load_safetensors(tmp.str("counter.safetensors")).tensors.empty());
        write_raw(tmp.str("i64.safetensors"),
                  R"({"ids":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}})", 8);
        CHECK_THROWS_WITH_AS(load_safetensors(tmp.str("i64.safetensors")),
                             doctest::Contains("dtype I64"), Error);
    }
    // A truncated file is reported, not read past its end.
    std::filesystem::resize_file(path, std::filesystem::file_size(path) - 4);
    CHECK_THROWS_WITH_AS(load_safetensors(path), doctest::Contains("past the end"), Error);
}

TEST_CASE("a file group is replaced all at once, even when a commit is interrupted") {
    namespace fs = std::filesystem;
    kelvin::testing::TempDir tmp("file-group");
    const fs::path dir = tmp.path;
    auto read = [&](const std::string& name) {
        std::ifstream in(dir / name);
        std::stringstream s;
        s << in.rdbuf();
        return s.str();
    };
    auto stage = [&](const std::string& generation) {
        FileGroupWriter g(dir);
        g.add_text("a.json", "a" + generation);
        g.add_text("b.json", "b" + generation);
        return g;
    };
    stage("1").commit();
    CHECK(read("a.json") == "a1");
    CHECK(read("b.json") == "b1");
    CHECK(!fs::exists(dir / ".kelvin-commit"));

    // Killed while staging (no journal yet): the old generation stays, the staged files go.
    { FileGroupWriter g = stage("2"); }
    CHECK(fs::exists(dir / "a.json.kelvin-staged"));
    CHECK(recover_file_group(dir).outcome == FileGroupRecovery::Outcome::nothing_to_do);
    CHECK(read("a.json") == "a1");
    CHECK(read("b.json") == "b1");
    CHECK(!fs::exists(dir / "a.json.kelvin-staged"));
    CHECK(!fs::exists(dir / "b.json.kelvin-staged"));

    // Killed between the renames (journal written, a.json already replaced): rolled forward.
    {
        FileGroupWriter g = stage("3");
        write_file_atomically((dir / ".kelvin-commit").string(), g.journal_text());
    }
    fs::rename(dir / "a.json.kelvin-staged", dir / "a.json");
    CHECK(read("a.json") == "a3");
    CHECK(read("b.json") == "b1");
    CHECK(recover_file_group(dir).outcome == FileGroupRecovery::Outcome::rolled_forward);
    CHECK(read("a.json") == "a3");
    CHECK(read("b.json") == "b3");
    CHECK(!fs::exists(dir / ".kelvin-commit"));
    CHECK(!fs::exists(dir / "b.json.kelvin-staged"));

    // A user's own *.staged file is not kelvin's to delete; a malformed journal is an error.
    std::ofstream(dir / "notes.staged") << "mine";
    CHECK(recover_file_group(dir).outcome == FileGroupRecovery::Outcome::nothing_to_do);
    CHECK(fs::exists(dir / "notes.staged"));
    write_file_atomically((dir / ".kelvin-commit").string(), R"({"a.json": 1})");
    CHECK_THROWS_WITH_AS(recover_file_group(dir), doctest::Contains("list of file names"), Error);
}

namespace {
std::string file_text(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

// Stages a generation of model.safetensors + metrics.json and writes its journal, as a process
// killed right after the journal write leaves them.
void stage_and_journal(const std::filesystem::path& dir, float value) {
    FileGroupWriter g(dir);
    g.add_safetensors("model.safetensors",
                      {{"w", Tensor::from_vector(std::vector<float>(64, value), {8, 8})}});
    g.add_text("metrics.json", "{\"epoch\": " + std::to_string(value) + "}\n");
    write_file_atomically((dir / ".kelvin-commit").string(), g.journal_text());
}
}  // namespace

TEST_CASE("crash recovery checks staged files against the journal's sizes and CRC-32s") {
    namespace fs = std::filesystem;
    using Outcome = FileGroupRecovery::Outcome;
    kelvin::testing::TempDir tmp("file-group-checksums");
    const fs::path dir = tmp.path;
    auto commit_generation = [&](float value) {
        FileGroupWriter g(dir);
        g.add_safetensors("model.safetensors",
                          {{"w", Tensor::from_vector(std::vector<float>(64, value), {8, 8})}});
        g.add_text("metrics.json", "{\"epoch\": " + std::to_string(value) + "}\n");
        g.commit();
    };
    auto weight = [&] { return load_safetensors((dir / "model.safetensors").string()).tensors.at("w").to_vector()[0]; };
    commit_generation(1);
    const std::string good_metrics = file_text(dir / "metrics.json");

    SUBCASE("intact staged files are rolled forward") {
        stage_and_journal(dir, 2);
        CHECK(recover_file_group(dir).outcome == Outcome::rolled_forward);
        CHECK(weight() == 2);
    }
    SUBCASE("a truncated staged file does not replace good weights") {
        stage_and_journal(dir, 2);
        const fs::path staged = dir / "model.safetensors.kelvin-staged";
        fs::resize_file(staged, fs::file_size(staged) - 16);
        const FileGroupRecovery r = recover_file_group(dir);
        CHECK(r.outcome == Outcome::discarded);
        CHECK(r.message.find("model.safetensors.kelvin-staged") != std::string::npos);
        CHECK(r.message.find("(truncated)") != std::string::npos);
        CHECK(r.message.find("previous files kept") != std::string::npos);
        CHECK(weight() == 1);
        CHECK(file_text(dir / "metrics.json") == good_metrics);
        CHECK(!fs::exists(dir / ".kelvin-commit"));
        CHECK(!fs::exists(staged));
    }
    SUBCASE("a staged file of the right size but other content is refused") {
        stage_and_journal(dir, 2);
        std::fstream f(dir / "metrics.json.kelvin-staged", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(2);
        f.put('X');
        f.close();
        const FileGroupRecovery r = recover_file_group(dir);
        CHECK(r.outcome == Outcome::discarded);
        CHECK(r.message.find("CRC-32") != std::string::npos);
        CHECK(weight() == 1);
    }
    SUBCASE("a damaged staged file after another was renamed is an error that changes nothing") {
        stage_and_journal(dir, 2);
        fs::rename(dir / "model.safetensors.kelvin-staged", dir / "model.safetensors");
        fs::resize_file(dir / "metrics.json.kelvin-staged", 3);
        CHECK_THROWS_WITH_AS(recover_file_group(dir), doctest::Contains("mixes two saves"), Error);
        CHECK(fs::exists(dir / ".kelvin-commit"));
        CHECK(fs::exists(dir / "metrics.json.kelvin-staged"));
    }
    SUBCASE("journals from before checksums: a safetensors file must match its header") {
        {
            FileGroupWriter g(dir);
            g.add_safetensors("model.safetensors",
                              {{"w", Tensor::from_vector(std::vector<float>(64, 3.0f), {8, 8})}});
        }
        write_file_atomically((dir / ".kelvin-commit").string(), R"(["model.safetensors"])");
        const fs::path staged = dir / "model.safetensors.kelvin-staged";
        fs::resize_file(staged, fs::file_size(staged) - 4);
        CHECK(recover_file_group(dir).outcome == Outcome::discarded);
        CHECK(weight() == 1);
        {
            FileGroupWriter g(dir);
            g.add_safetensors("model.safetensors",
                              {{"w", Tensor::from_vector(std::vector<float>(64, 3.0f), {8, 8})}});
        }
        write_file_atomically((dir / ".kelvin-commit").string(), R"(["model.safetensors"])");
        CHECK(recover_file_group(dir).outcome == Outcome::rolled_forward);
        CHECK(weight() == 3);
    }
    SUBCASE("a journal may not name files outside its folder") {
        write_file_atomically((dir / ".kelvin-commit").string(), R"(["../model.safetensors"])");
        CHECK_THROWS_WITH_AS(recover_file_group(dir), doctest::Contains("not a plain file name"), Error);
    }
}

TEST_CASE("the loader covers every sample once per epoch, reproducibly per (seed, epoch)") {
    data::HostDataset d;
    d.name = "toy";
    d.count = 103;
    d.channels = 1;
    d.height = 2;
    d.width = 2;
    d.num_classes = 103;
    for (int i = 0; i < 103; ++i) {
        d.labels.push_back(i);
        for (int k = 0; k < 4; ++k) d.pixels.push_back(static_cast<uint8_t>(i));
    }
    data::LoaderOptions o;
    o.batch_size = 10;
    o.seed = 5;
    o.mean = {0.0f};
    o.std = {1.0f};
    data::BatchLoader loader(d, o);
    CHECK(loader.batches_per_epoch() == 11);
    auto epoch_order = [&](int64_t epoch) {
        std::vector<int32_t> order;
        loader.start_epoch(epoch);
        data::Batch b;
        while (loader.next(b)) {
            auto labels = b.labels.to_int_vector();
            auto pixels = b.images.to_vector();
            for (size_t i = 0; i < labels.size(); ++i)
                CHECK(pixels[i * 4] == doctest::Approx(labels[i] / 255.0f));
            order.insert(order.end(), labels.begin(), labels.end());
        }
        return order;
    };
    auto e0 = epoch_order(0), e0_again = epoch_order(0), e1 = epoch_order(1);
    CHECK(e0.size() == 103);
    CHECK(std::set<int32_t>(e0.begin(), e0.end()).size() == 103);
    CHECK(e0 == e0_again);
    CHECK(e0 != e1);
    // Restarting mid-epoch abandons the old prefetch cleanly.
    loader.start_epoch(2);
    data::Batch b;
    loader.next(b);
    CHECK(epoch_order(2).size() == 103);
    o.batch_size = 0;
    CHECK_THROWS_WITH_AS(data::BatchLoader(d, o), doctest::Contains("batch size"), Error);
}
