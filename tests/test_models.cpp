// The model families (models/): shapes on Fashion-MNIST- and CIFAR-sized inputs, probe points,
// parameter counts against the published ones, option errors, and a few SGD steps on one batch
// that must lower the loss. Gradients are checked against PyTorch in tests/test_golden.cpp.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <string>

#include "engine/ops.h"
#include "engine/optim/optimizer.h"
#include "models/registry.h"
#include "models/vgg.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::random_tensor;

namespace {

// Small enough for a quick CPU test, with every structural piece present.
models::ModelOptions small_options(int channels, int size) {
    models::ModelOptions o;
    o.in_channels = channels;
    o.in_height = size;
    o.in_width = size;
    o.depth = 3;
    o.width = 32;
    o.base_width = 8;
    o.vit_width = 32;
    o.vit_depth = 2;
    o.vit_heads = 2;
    return o;
}

Tensor random_labels(int64_t n, int classes) {
    std::vector<int32_t> labels(n);
    for (int64_t i = 0; i < n; ++i) labels[i] = int32_t((i * 7 + 3) % classes);
    return Tensor::from_vector(labels, {n});
}

}  // namespace

TEST_CASE("models: the registry lists every family and rejects unknown names") {
    const std::vector<std::string> expected = {"mlp",      "vgg11",    "vgg11bn", "vgg13",
                                               "vgg13bn",  "vgg16",    "vgg16bn", "vgg19",
                                               "vgg19bn",  "resnet18", "resnet34", "vit"};
    CHECK(models::model_names() == expected);
    CHECK_THROWS_WITH_AS(models::build_model("vgg12", {}), doctest::Contains("expected one of mlp"),
                         Error);
}

TEST_CASE("models: every model maps 1x28x28 and 3x32x32 batches to [N, classes] with its probes") {
    for (const std::string& name : models::model_names()) {
        for (auto [channels, size] : {std::pair{1, 28}, std::pair{3, 32}}) {
            INFO(name << " on " << channels << "x" << size << "x" << size);
            models::ModelOptions o = small_options(channels, size);
            auto model = models::build_model(name, o);
            CHECK(model->name() == name);
            const Tensor x = random_tensor({3, channels, size, size}, 7);
            std::vector<Tensor> probes;
            const Tensor logits = model->forward(x, &probes);
            CHECK(logits.shape() == Shape{3, 10});
            const std::vector<std::string> names = model->probe_names();
            REQUIRE(probes.size() == names.size());
            for (const Tensor& p : probes) CHECK(p.size(0) == 3);
            // The penultimate representation is last: the head's input, [N, features].
            CHECK(probes.back().ndim() == 2);
            for (float v : logits.to_vector()) CHECK(std::isfinite(v));

            model->eval();  // running statistics, no probes requested
            NoGradGuard no_grad;
            CHECK(model->forward(x).shape() == Shape{3, 10});
        }
    }
}

TEST_CASE("models: probe names and penultimate widths") {
    models::ModelOptions o = small_options(3, 32);
    auto vgg = models::build_model("vgg11bn", o);
    CHECK(vgg->probe_names() ==
          std::vector<std::string>{"features.2", "features.6", "features.10", "features.13",
                                   "features.17", "features.20", "features.24", "features.27",
                                   "penultimate"});
    auto resnet = models::build_model("resnet18", o);
    CHECK(resnet->probe_names() ==
          std::vector<std::string>{"layer1.0", "layer1.1", "layer2.0", "layer2.1", "layer3.0",
                                   "layer3.1", "layer4.0", "layer4.1", "penultimate"});
    CHECK(models::build_model("resnet34", o)->probe_names().size() == 3 + 4 + 6 + 3 + 1);
    auto vit = models::build_model("vit", o);
    CHECK(vit->probe_names() ==
          std::vector<std::string>{"encoder_layer_0", "encoder_layer_1", "penultimate"});

    // VGG on 28x28: the fifth pool is skipped at 1x1, so the head sees 8 * base_width features.
    auto vgg28 = models::build_model("vgg16", small_options(1, 28));
    std::vector<Tensor> probes;
    vgg28->forward(random_tensor({2, 1, 28, 28}, 3), &probes);
    CHECK(probes.back().shape() == Shape{2, 64});
    // 64x64 keeps a 2x2 map: 4x the features.
    auto vgg64 = models::build_model("vgg11", small_options(3, 64));
    probes.clear();
    vgg64->forward(random_tensor({2, 3, 64, 64}, 3), &probes);
    CHECK(probes.back().shape() == Shape{2, 256});
}

TEST_CASE("models: parameter counts at full width match the published CIFAR models") {
    models::ModelOptions o;
    o.in_channels = 3;
    o.in_height = o.in_width = 32;
    // VGG CIFAR variants with one 512 -> 10 classifier; ResNets with the 3x3 stem, fc 512 -> 10
    // (BatchNorm affine parameters counted, running statistics not).
    CHECK(models::build_model("vgg11", o)->parameter_count() == 9231114 - 5504);
    CHECK(models::build_model("vgg11bn", o)->parameter_count() == 9231114);
    CHECK(models::build_model("vgg16bn", o)->parameter_count() == 14728266);
    CHECK(models::build_model("resnet18", o)->parameter_count() == 11173962);
    CHECK(models::build_model("resnet34", o)->parameter_count() == 21282122);
    // ViT default (patch 4, D 192, 6 blocks, MLP 768): 65 tokens.
    const int64_t d = 192, blocks = 6, mlp = 768;
    const int64_t per_block = 2 * 2 * d + (3 * d * d + 3 * d) + (d * d + d) + (d * mlp + mlp) + (mlp * d + d);
    const int64_t expected_vit = (d * 3 * 16 + d) + d + 65 * d + blocks * per_block + 2 * d + (d * 10 + 10);
    CHECK(models::build_model("vit", o)->parameter_count() == expected_vit);
    // The ImageNet stem differs in conv1 alone: 7x7 instead of 3x3 kernels.
    o.stem = "imagenet";
    CHECK(models::build_model("resnet18", o)->parameter_count() == 11173962 + 64 * 3 * (49 - 9));
}

TEST_CASE("models: full-width VGG-11-BN, ResNet-18 and the default ViT run a CIFAR batch") {
    models::ModelOptions o;
    o.in_channels = 3;
    o.in_height = o.in_width = 32;
    for (std::string name : {"vgg11bn", "resnet18", "vit"}) {
        INFO(name);
        auto model = models::build_model(name, o);
        std::vector<Tensor> probes;
        const Tensor logits = model->forward(random_tensor({2, 3, 32, 32}, 5), &probes);
        CHECK(logits.shape() == Shape{2, 10});
        CHECK(probes.size() == model->probe_names().size());
    }
}

TEST_CASE("models: the ResNet ImageNet stem takes 28x28 and 32x32") {
    for (auto [channels, size] : {std::pair{1, 28}, std::pair{3, 32}}) {
        models::ModelOptions o = small_options(channels, size);
        o.stem = "imagenet";
        auto model = models::build_model("resnet18", o);
        CHECK(model->forward(random_tensor({2, channels, size, size}, 9)).shape() == Shape{2, 10});
    }
}

TEST_CASE("models: option errors name the allowed values") {
    models::ModelOptions o = small_options(3, 32);
    o.stem = "tiny";
    CHECK_THROWS_WITH_AS(models::build_model("resnet18", o),
                         doctest::Contains("expected cifar or imagenet"), Error);
    o = small_options(3, 32);
    o.patch = 5;
    CHECK_THROWS_WITH_AS(models::build_model("vit", o), doctest::Contains("must divide the input"),
                         Error);
    o = small_options(3, 32);
    o.vit_heads = 3;
    CHECK_THROWS_WITH_AS(models::build_model("vit", o),
                         doctest::Contains("must be a positive multiple of vit_heads"), Error);
    o = small_options(3, 32);
    auto vit = models::build_model("vit", o);
    CHECK_THROWS_WITH_AS(vit->forward(random_tensor({2, 3, 28, 28}, 1)),
                         doctest::Contains("position embeddings fix the size"), Error);
    CHECK_THROWS_WITH_AS(models::build_model("vgg11", o)->forward(random_tensor({2, 1, 32, 32}, 1)),
                         doctest::Contains("expected images [N, 3, H, W]"), Error);
}

TEST_CASE("models: the same seed builds the same weights; init_scale scales every conv and linear") {
    models::ModelOptions o = small_options(3, 32);
    for (std::string name : {"vgg11bn", "resnet18", "vit"}) {
        INFO(name);
        auto a = models::build_model(name, o), b = models::build_model(name, o);
        o.init_scale = 2.0f;
        auto scaled = models::build_model(name, o);
        o.init_scale = 1.0f;
        auto pa = a->named_parameters(), pb = b->named_parameters(), ps = scaled->named_parameters();
        REQUIRE(pa.size() == ps.size());
        for (size_t i = 0; i < pa.size(); ++i) {
            INFO(pa[i].name);
            const std::vector<float> va = pa[i].tensor->to_vector(), vs = ps[i].tensor->to_vector();
            CHECK(va == pb[i].tensor->to_vector());
            // Conv and linear weights and biases scale; norm weights (ones) and the position
            // embedding do not (zeros, as norm biases and the class token, read the same).
            const bool norm_weight =
                std::all_of(va.begin(), va.end(), [](float v) { return v == 1.0f; });
            if (norm_weight || pa[i].name.find("pos_embedding") != std::string::npos) {
                CHECK(vs == va);
                continue;
            }
            size_t unscaled = 0;
            for (size_t k = 0; k < va.size(); ++k)
                unscaled += std::fabs(vs[k] - 2.0f * va[k]) > 1e-6f * std::fabs(va[k]) + 1e-12f;
            CHECK(unscaled == 0);
        }
    }
}

TEST_CASE("models: ten SGD steps on one 3x16x16 batch lower the loss (vgg11bn, resnet18, vit; CPU)") {
    for (std::string name : {"vgg11bn", "resnet18", "vit"}) {
        INFO(name);
        auto model = models::build_model(name, small_options(3, 16));
        const Tensor x = random_tensor({8, 3, 16, 16}, 11);
        const Tensor labels = random_labels(8, 10);
        optim::SgdOptions so;
        so.lr = name == "vit" ? 0.05f : 0.1f;
        so.momentum = 0.9f;
        optim::Sgd sgd(model->parameters(), so);
        float first = 0.0f, last = 0.0f;
        for (int step = 0; step < 10; ++step) {
            sgd.zero_grad();
            Tensor loss = ops::softmax_cross_entropy(model->forward(x), labels, 1.0f);
            loss.backward();
            sgd.step();
            (step == 0 ? first : last) = loss.item();
        }
        CHECK(std::isfinite(last));
        CHECK(last < 0.7f * first);
    }
}
