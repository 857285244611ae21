// Golden parity with PyTorch: tests/golden/<fixture>.safetensors, written by
// tests/golden/make_fixtures.py, hold a small model of each family built in PyTorch with kelvin's
// structure and names, its weights, a batch, and PyTorch's logits, temperature cross-entropy
// (T = 10), every parameter gradient and the BatchNorm running statistics after the forward,
// computed in float64. kelvin builds the same model from the fixture's metadata, loads the
// weights and must reproduce all of it, on the CPU and (when present) on CUDA.
//
// Measure, per tensor: max |kelvin - pytorch| / max |pytorch| (normalised by the reference's
// largest magnitude, as ggml's test-backend-ops) below 1e-4. One exception: a gradient that is
// zero in exact arithmetic (a conv or linear bias feeding BatchNorm; PyTorch's float64 gives
// ~1e-17) has no scale of its own, so kelvin's float32 rounding noise there must stay below
// 1e-5 times the model's largest gradient. Set KELVIN_GOLDEN_VERBOSE=1 to print each model's
// worst error.
//
// Interop: the names kelvin gives a model's parameters and buffers, and those of the checkpoint
// it writes (experiments/train.cpp: parameters then buffers through save_safetensors), are
// exactly the PyTorch state_dict keys of the mirrored module (num_batches_tracked aside).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <set>
#include <string>

#include "engine/checkpoint.h"
#include "engine/device.h"
#include "engine/ops.h"
#include "models/registry.h"

using namespace kelvin;

namespace {

const char* const kFixtures[] = {"mlp", "vgg11bn", "resnet18", "resnet18_imagenet", "vit"};
constexpr double kTolerance = 1e-4;

std::string fixture_path(const std::string& fixture) {
    return std::string(KELVIN_SOURCE_DIR) + "/tests/golden/" + fixture + ".safetensors";
}

// The ModelOptions fields make_fixtures.py writes; an unknown key fails, so script and test
// cannot drift apart silently.
models::ModelOptions options_from_metadata(const std::map<std::string, std::string>& metadata) {
    models::ModelOptions o;
    for (const auto& [key, value] : metadata) {
        if (key == "model" || key == "temperature") continue;
        if (key == "num_classes") o.num_classes = std::stoi(value);
        else if (key == "in_channels") o.in_channels = std::stoi(value);
        else if (key == "in_height") o.in_height = std::stoi(value);
        else if (key == "in_width") o.in_width = std::stoi(value);
        else if (key == "depth") o.depth = std::stoi(value);
        else if (key == "width") o.width = std::stoi(value);
        else if (key == "norm") o.norm = value;
        else if (key == "head_norm") o.head_norm = value;
        else if (key == "base_width") o.base_width = std::stoi(value);
        else if (key == "stem") o.stem = value;
        else if (key == "patch") o.patch = std::stoi(value);
        else if (key == "vit_width") o.vit_width = std::stoi(value);
        else if (key == "vit_depth") o.vit_depth = std::stoi(value);
        else if (key == "vit_heads") o.vit_heads = std::stoi(value);
        else if (key == "vit_mlp_ratio") o.vit_mlp_ratio = std::stof(value);
        else FAIL("fixture metadata has an unknown option '" << key << "'");
    }
    return o;
}

// The fixture's entries that are not model state.
bool is_state_name(const std::string& name) {
    return name != "input" && name != "labels" && name != "logits" && name != "loss" &&
           name.rfind("grad.", 0) != 0 && name.rfind("after.", 0) != 0;
}

std::set<std::string> state_names(const SafetensorsFile& file) {
    std::set<std::string> names;
    for (const auto& [name, tensor] : file.tensors)
        if (is_state_name(name)) names.insert(name);
    return names;
}

std::set<std::string> model_state_names(models::Model& model) {
    std::set<std::string> names;
    for (auto& p : model.named_parameters()) names.insert(p.name);
    for (auto& b : model.named_buffers()) names.insert(b.name);
    return names;
}

double max_abs(const Tensor& t) {
    double m = 0.0;
    for (float v : t.to_vector()) m = std::max(m, double(std::fabs(v)));
    return m;
}

// max |got - want| / max |want|; NaN or a shape mismatch is an infinite error.
double normalised_error(const Tensor& got, const Tensor& want) {
    if (!got.defined() || got.shape() != want.shape()) return INFINITY;
    const std::vector<float> a = got.to_vector(), b = want.to_vector();
    double worst = 0.0, scale = 0.0;
    for (size_t i = 0; i < b.size(); ++i) {
        if (!std::isfinite(a[i])) return INFINITY;
        worst = std::max(worst, std::fabs(double(a[i]) - double(b[i])));
        scale = std::max(scale, std::fabs(double(b[i])));
    }
    return scale > 0.0 ? worst / scale : worst;
}

std::unique_ptr<models::Model> load_model(const SafetensorsFile& file) {
    auto model = models::build_model(file.metadata.at("model"), options_from_metadata(file.metadata));
    auto load = [&](const nn::NamedTensor& t) {
        const auto found = file.tensors.find(t.name);
        REQUIRE_MESSAGE(found != file.tensors.end(), "fixture lacks '" << t.name << "'");
        REQUIRE_MESSAGE(found->second.shape() == t.tensor->shape(),
                        t.name << ": fixture " << shape_to_string(found->second.shape())
                               << ", kelvin " << shape_to_string(t.tensor->shape()));
        t.tensor->copy_from(found->second);
    };
    for (auto& p : model->named_parameters()) load(p);
    for (auto& b : model->named_buffers()) load(b);
    return model;
}

void check_golden(const std::string& fixture, Device device) {
    const SafetensorsFile file = load_safetensors(fixture_path(fixture));
    auto model = load_model(file);
    model->train();
    model->to(device);
    const Tensor x = file.tensors.at("input").to(device);
    const Tensor labels = file.tensors.at("labels").to(device);
    const float temperature = std::stof(file.metadata.at("temperature"));

    const Tensor logits = model->forward(x);
    const Tensor loss = ops::softmax_cross_entropy(logits, labels, temperature);
    loss.backward();

    // The largest gradient anywhere in the model sets the scale for exactly-zero gradients.
    double gradient_scale = 0.0;
    for (const auto& [name, tensor] : file.tensors)
        if (name.rfind("grad.", 0) == 0)
            for (float v : tensor.to_vector()) gradient_scale = std::max(gradient_scale, double(std::fabs(v)));

    double worst = 0.0;
    std::string worst_name;
    int gradients = 0, buffers = 0, zero_gradients = 0;
    auto check = [&](const std::string& what, const Tensor& got, const std::string& key) {
        INFO(fixture << " on " << std::string(device_name(device)) << ": " << what);
        REQUIRE_MESSAGE(file.tensors.count(key), "fixture lacks " << key);
        REQUIRE(got.defined());
        const Tensor& want = file.tensors.at(key);
        const Tensor host = got.to(Device::CPU);
        if (key.rfind("grad.", 0) == 0 && max_abs(want) <= 1e-9 * gradient_scale) {
            // Zero in exact arithmetic (the bias of a layer right before BatchNorm, whose mean
            // subtraction cancels it): float32 leaves rounding noise, judged on the model's scale.
            CHECK(host.shape() == want.shape());
            CHECK(max_abs(host) <= 1e-5 * gradient_scale);
            ++zero_gradients;
            return;
        }
        const double error = normalised_error(host, want);
        CHECK(error < kTolerance);
        if (error > worst || worst_name.empty()) worst = error, worst_name = what;
    };
    check("logits", logits, "logits");
    check("loss", loss, "loss");
    for (auto& p : model->named_parameters()) {
        check("grad." + p.name, p.tensor->grad(), "grad." + p.name);
        ++gradients;
    }
    for (auto& b : model->named_buffers()) {
        check("running statistic " + b.name, *b.tensor, "after." + b.name);
        ++buffers;
    }
    CHECK(gradients > 0);
    if (std::getenv("KELVIN_GOLDEN_VERBOSE"))
        std::printf("golden %-18s %-4s %3d gradients (%d exactly zero), %3d buffers: worst %.3g (%s)\n",
                    fixture.c_str(), device_name(device), gradients, zero_gradients, buffers,
                    worst, worst_name.c_str());
}

}  // namespace

TEST_CASE("golden: every model family matches PyTorch on the CPU (logits, loss, gradients)") {
    for (const char* fixture : kFixtures) {
        SUBCASE(fixture) { check_golden(fixture, Device::CPU); }
    }
}

TEST_CASE("golden: every model family matches PyTorch on CUDA" *
          doctest::skip(!kelvin::cuda_available())) {
    for (const char* fixture : kFixtures) {
        SUBCASE(fixture) { check_golden(fixture, Device::CUDA); }
    }
}

TEST_CASE("golden: kelvin's names and checkpoints are PyTorch's state_dict keys") {
    const std::filesystem::path dir =
        std::filesystem::temp_directory_path() / "kelvin_golden_interop";
    std::filesystem::create_directories(dir);
    for (const char* fixture : kFixtures) {
        INFO(fixture);
        const SafetensorsFile file = load_safetensors(fixture_path(fixture));
        auto model = load_model(file);
        const std::set<std::string> expected = state_names(file);
        CHECK(model_state_names(*model) == expected);

        // The checkpoint an experiment writes, read back: same names, shapes and values.
        std::vector<NamedTensorRef> weights;
        for (auto& p : model->named_parameters()) weights.push_back({p.name, *p.tensor});
        for (auto& b : model->named_buffers()) weights.push_back({b.name, *b.tensor});
        const std::string path = (dir / (std::string(fixture) + ".safetensors")).string();
        save_safetensors(path, weights, {{"format", "pt"}, {"model", model->name()}});
        const SafetensorsFile saved = load_safetensors(path);
        std::set<std::string> saved_names;
        for (const auto& [name, tensor] : saved.tensors) {
            saved_names.insert(name);
            REQUIRE(file.tensors.count(name));
            CHECK(normalised_error(tensor, file.tensors.at(name)) == 0.0);
        }
        CHECK(saved_names == expected);
        std::filesystem::remove(path);
    }
    std::filesystem::remove_all(dir);
}
