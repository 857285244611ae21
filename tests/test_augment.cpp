// Training augmentation (random crop + horizontal flip): the kernel against a slow reference that
// pads, crops and mirrors in the obvious way with offsets drawn from splitmix64 by the layout
// documented in kernels/augment.h; the loader applying it only when asked and only as a function
// of (seed, epoch, batch); the training settings; and CPU-vs-CUDA parity.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "data/loader.h"
#include "engine/device.h"
#include "experiments/sweep.h"
#include "experiments/train.h"
#include "kernels/augment.h"
#include "tests/cli_runner.h"
#include "tests/gradcheck.h"

using namespace kelvin;
using kelvin::testing::random_tensor;
namespace fs = std::filesystem;

namespace {

// The draw of sample i, re-derived here from the hash and the documented bit layout rather than
// through crop_flip_draw, so a wrong field or shift in the header shows up.
struct Draw {
    int64_t dy, dx;
    bool flip;
};
Draw expected_draw(uint64_t seed, int64_t i, int64_t padding) {
    const uint64_t bits = splitmix64(seed, static_cast<uint64_t>(i));
    const uint64_t range = 2 * padding + 1;
    return {static_cast<int64_t>((bits & 0x1FFFFF) % range),
            static_cast<int64_t>(((bits >> 21) & 0x1FFFFF) % range), (bits >> 63) == 1};
}

// Pads each plane with zeros, takes the h x w window at (dy, dx), mirrors it when flipped.
std::vector<float> reference_crop_flip(const std::vector<float>& in, int64_t n, int64_t c,
                                       int64_t h, int64_t w, int64_t padding, bool flip,
                                       uint64_t seed) {
    std::vector<float> out(in.size());
    const int64_t ph = h + 2 * padding, pw = w + 2 * padding;
    for (int64_t i = 0; i < n; ++i) {
        const Draw d = expected_draw(seed, i, padding);
        for (int64_t ch = 0; ch < c; ++ch) {
            const float* src = in.data() + (i * c + ch) * h * w;
            std::vector<float> padded(ph * pw, 0.0f);
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x) padded[(y + padding) * pw + x + padding] = src[y * w + x];
            float* dst = out.data() + (i * c + ch) * h * w;
            for (int64_t y = 0; y < h; ++y)
                for (int64_t x = 0; x < w; ++x) {
                    const int64_t wx = (flip && d.flip) ? w - 1 - x : x;
                    dst[y * w + x] = padded[(y + d.dy) * pw + wx + d.dx];
                }
        }
    }
    return out;
}

std::vector<float> cpu_crop_flip(const Tensor& x, int64_t padding, bool flip, uint64_t seed) {
    Tensor out = Tensor::full(x.shape(), NAN);
    cpu::random_crop_flip(x.f32(), out.f32(), x.size(0), x.size(1), x.size(2), x.size(3),
                          padding, flip, seed);
    return out.to_vector();
}

// count images of channels x size x size with nonzero, mostly distinct bytes; label = index.
data::HostDataset toy_images(int64_t count, int64_t channels, int64_t size) {
    data::HostDataset d;
    d.name = "toy";
    d.count = count;
    d.channels = channels;
    d.height = d.width = size;
    d.num_classes = static_cast<int>(count);
    for (int64_t i = 0; i < count; ++i) {
        d.labels.push_back(static_cast<int32_t>(i));
        for (int64_t k = 0; k < d.image_size(); ++k)
            d.pixels.push_back(static_cast<uint8_t>(1 + (i * 37 + k * 11) % 254));
    }
    return d;
}

data::LoaderOptions toy_loading(uint64_t seed) {
    data::LoaderOptions o;
    o.batch_size = 8;
    o.seed = seed;
    o.mean = {0.0f, 0.0f};
    o.std = {1.0f, 1.0f};
    return o;
}

// Every batch of one epoch, images and labels.
std::vector<data::Batch> epoch_batches(data::BatchLoader& loader, int64_t epoch) {
    std::vector<data::Batch> batches;
    loader.start_epoch(epoch);
    data::Batch b;
    while (loader.next(b)) batches.push_back(b);
    return batches;
}

}  // namespace

// ---- the kernel -----------------------------------------------------------------------------

TEST_CASE("random_crop_flip: padding 0 without flipping is the identity") {
    Tensor x = random_tensor({3, 2, 5, 4}, 1);
    CHECK(cpu_crop_flip(x, 0, false, 123) == x.to_vector());
    CHECK(cpu_crop_flip(x, 0, false, 456) == x.to_vector());
}

TEST_CASE("random_crop_flip: 3x3 images with padding 1 match the hand-built crop, zeros included") {
    // Pixels 1..9 per plane (plus 10 per channel), so a zero in the output can only be padding.
    const int64_t n = 32, c = 2;
    std::vector<float> pixels;
    for (int64_t i = 0; i < n; ++i)
        for (int64_t ch = 0; ch < c; ++ch)
            for (int k = 1; k <= 9; ++k) pixels.push_back(float(k + 10 * ch));
    Tensor x = Tensor::from_vector(pixels, {n, c, 3, 3});
    const uint64_t seed = 2024;
    const std::vector<float> got = cpu_crop_flip(x, 1, true, seed);
    CHECK(got == reference_crop_flip(pixels, n, c, 3, 3, 1, true, seed));

    bool shifted = false, flipped = false, kept = false;
    for (int64_t i = 0; i < n; ++i) {
        const Draw d = expected_draw(seed, i, 1);
        CHECK(d.dy >= 0);
        CHECK(d.dy <= 2);
        CHECK(d.dx >= 0);
        CHECK(d.dx <= 2);
        shifted |= d.dy != 1 || d.dx != 1;
        (d.flip ? flipped : kept) = true;
        // The window leaves |dy - 1| rows and |dx - 1| columns of padding in view.
        const int64_t zero_rows = std::abs(d.dy - 1), zero_cols = std::abs(d.dx - 1);
        const int64_t want_zeros = 3 * zero_rows + 3 * zero_cols - zero_rows * zero_cols;
        for (int64_t ch = 0; ch < c; ++ch) {
            const float* plane = got.data() + (i * c + ch) * 9;
            CHECK(std::count(plane, plane + 9, 0.0f) == want_zeros);
            // The centre is the input's pixel (dy, dx), flipped or not; the top-left corner is
            // the padded image's (dy, dx), or (dy, dx + 2) when mirrored.
            CHECK(plane[4] == float(1 + d.dy * 3 + d.dx + 10 * ch));
            const int64_t corner_y = d.dy - 1, corner_x = d.dx + (d.flip ? 2 : 0) - 1;
            const bool inside = corner_y >= 0 && corner_y < 3 && corner_x >= 0 && corner_x < 3;
            CHECK(plane[0] == (inside ? float(1 + corner_y * 3 + corner_x + 10 * ch) : 0.0f));
        }
    }
    // The seed exercises every case: shifted windows, flipped and unflipped samples.
    CHECK(shifted);
    CHECK(flipped);
    CHECK(kept);
}

TEST_CASE("random_crop_flip: with padding 0, flipping reverses every row of the flipped samples") {
    const int64_t n = 32, c = 3, h = 2, w = 5;
    Tensor x = random_tensor({n, c, h, w}, 2);
    const std::vector<float> in = x.to_vector(), got = cpu_crop_flip(x, 0, true, 99);
    int flipped = 0;
    for (int64_t i = 0; i < n; ++i) {
        const bool flip = expected_draw(99, i, 0).flip;
        flipped += flip;
        for (int64_t row = i * c * h; row < (i + 1) * c * h; ++row)
            for (int64_t x_out = 0; x_out < w; ++x_out)
                CHECK(got[row * w + x_out] == in[row * w + (flip ? w - 1 - x_out : x_out)]);
    }
    CHECK(flipped > 0);
    CHECK(flipped < n);
}

TEST_CASE("random_crop_flip: the same seed gives the same output, different seeds differ") {
    Tensor x = random_tensor({8, 3, 8, 8}, 3);
    const std::vector<float> a = cpu_crop_flip(x, 2, true, 7);
    CHECK(a == cpu_crop_flip(x, 2, true, 7));
    CHECK(a != cpu_crop_flip(x, 2, true, 8));
    CHECK(a == reference_crop_flip(x.to_vector(), 8, 3, 8, 8, 2, true, 7));
    // Non-square images, padding up to the smaller side minus one, large enough to go parallel.
    Tensor big = random_tensor({300, 3, 5, 9}, 4);
    CHECK(cpu_crop_flip(big, 4, true, 11) ==
          reference_crop_flip(big.to_vector(), 300, 3, 5, 9, 4, true, 11));
    CHECK(cpu_crop_flip(big, 4, false, 11) ==
          reference_crop_flip(big.to_vector(), 300, 3, 5, 9, 4, false, 11));
}

// ---- the loader -----------------------------------------------------------------------------

TEST_CASE("loader: augmentation only when asked, a pure function of (seed, epoch, batch)") {
    const data::HostDataset d = toy_images(37, 2, 5);
    data::BatchLoader plain(d, toy_loading(5));
    data::LoaderOptions o = toy_loading(5);
    o.crop_padding = 2;
    o.horizontal_flip = true;
    data::BatchLoader augmented(d, o);

    bool changed = false;
    for (int64_t epoch : {0, 1}) {
        const std::vector<data::Batch> p = epoch_batches(plain, epoch);
        const std::vector<data::Batch> a = epoch_batches(augmented, epoch);
        REQUIRE(p.size() == a.size());
        for (size_t b = 0; b < p.size(); ++b) {
            // Without options the batch is the data, normalised.
            const std::vector<int32_t> labels = p[b].labels.to_int_vector();
            const std::vector<float> images = p[b].images.to_vector();
            for (size_t i = 0; i < labels.size(); ++i)
                for (int64_t k = 0; k < d.image_size(); ++k)
                    REQUIRE(images[i * d.image_size() + k] ==
                            doctest::Approx(d.pixels[labels[i] * d.image_size() + k] / 255.0f));
            // With them: the same samples, cropped and flipped with the batch's seed.
            CHECK(a[b].labels.to_int_vector() == labels);
            const std::vector<float> want = reference_crop_flip(
                images, p[b].images.size(0), 2, 5, 5, 2, true,
                data::augmentation_seed(5, epoch, static_cast<int64_t>(b)));
            CHECK(a[b].images.to_vector() == want);
            changed |= want != images;
        }
    }
    CHECK(changed);

    // Resuming at epoch 1 (a fresh loader) sees epoch 1's augmentation exactly.
    data::BatchLoader resumed(d, o);
    const std::vector<data::Batch> again = epoch_batches(resumed, 1);
    const std::vector<data::Batch> before = epoch_batches(augmented, 1);
    for (size_t b = 0; b < again.size(); ++b)
        CHECK(again[b].images.to_vector() == before[b].images.to_vector());
    // Different batches and epochs get different seeds.
    CHECK(data::augmentation_seed(5, 0, 0) != data::augmentation_seed(5, 0, 1));
    CHECK(data::augmentation_seed(5, 0, 1) != data::augmentation_seed(5, 1, 0));
    CHECK(data::augmentation_seed(5, 0, 0) != data::augmentation_seed(6, 0, 0));

    // fixed_batch (monitoring, evaluation) is never augmented.
    CHECK(augmented.fixed_batch(10).images.to_vector() == plain.fixed_batch(10).images.to_vector());
}

TEST_CASE("loader: crop padding must be >= 0 and smaller than the images") {
    const data::HostDataset d = toy_images(4, 2, 5);
    data::LoaderOptions o = toy_loading(1);
    o.crop_padding = 5;
    CHECK_THROWS_WITH_AS(data::BatchLoader(d, o), doctest::Contains("crop padding 5"), Error);
    o.crop_padding = -1;
    CHECK_THROWS_WITH_AS(data::BatchLoader(d, o), doctest::Contains("crop padding -1"), Error);
    o.crop_padding = 4;
    CHECK_NOTHROW(data::BatchLoader(d, o));
}

// ---- training settings ------------------------------------------------------------------------

TEST_CASE("train config: crop_padding and flip are saved, loaded and validated") {
    experiments::TrainConfig c;
    c.out = "unused";
    c.crop_padding = 4;
    c.flip = true;
    const nlohmann::json j = experiments::config_to_json(c);
    CHECK(j.at("crop_padding") == 4);
    CHECK(j.at("flip") == true);
    const experiments::TrainConfig back = experiments::config_from_json(j);
    CHECK(back.crop_padding == 4);
    CHECK(back.flip);
    // A config.json written before augmentation existed loads as "no augmentation".
    nlohmann::json old = j;
    old.erase("crop_padding");
    old.erase("flip");
    CHECK(experiments::config_from_json(old).crop_padding == 0);
    CHECK_FALSE(experiments::config_from_json(old).flip);
    // config.json files written before the rename (issue 10) still load.
    old["horizontal_flip"] = true;
    CHECK(experiments::config_from_json(old).flip);
    CHECK_NOTHROW(experiments::validate_config(c));
    c.crop_padding = -1;
    CHECK_THROWS_WITH_AS(experiments::validate_config(c), doctest::Contains("--crop-padding"),
                         Error);
}

TEST_CASE("sweep config: crop_padding and flip keys" *
          doctest::skip(!kelvin::testing::kHaveFashionMnist)) {
    const experiments::SweepConfig c = experiments::parse_sweep_config(
        nlohmann::json::parse(R"({"crop_padding": 2, "flip": true})"), "sweep.json");
    CHECK(c.train.crop_padding == 2);
    CHECK(c.train.flip);
    CHECK_THROWS_WITH_AS(experiments::parse_sweep_config(
                             nlohmann::json::parse(R"({"flip": 3})"), "sweep.json"),
                         doctest::Contains("'flip'"), Error);
}

TEST_CASE("train --crop-padding --flip: saved in config.json, evaluation left unaugmented" *
          doctest::skip(!kelvin::testing::kHaveFashionMnist)) {
    using kelvin::testing::run_kelvin;
    kelvin::testing::TempDir tmp("augment");
    const std::string run = "train --dataset fashion-mnist:classes=0-4 --depth 2 --width 16 "
                            "--batch-size 50 --train-subset 300 --eval-batch-size 500 --epochs 1 ";
    auto plain = run_kelvin(run + "--out " + tmp.str("plain"));
    REQUIRE_MESSAGE(plain.exit_code == 0, plain.output);
    auto augmented = run_kelvin(run + "--crop-padding 3 --flip --out " + tmp.str("augmented"));
    REQUIRE_MESSAGE(augmented.exit_code == 0, augmented.output);
    auto read = [](const fs::path& p) {
        std::ifstream in(p);
        return nlohmann::json::parse(in);
    };
    const nlohmann::json config = read(fs::path(tmp.str("augmented")) / "config.json");
    CHECK(config.at("crop_padding") == 3);
    CHECK(config.at("flip") == true);
    const nlohmann::json a = read(fs::path(tmp.str("plain")) / "metrics.json");
    const nlohmann::json b = read(fs::path(tmp.str("augmented")) / "metrics.json");
    // Same seed, same initial weights: the evaluation before training sees the same test images.
    CHECK(a["init"] == b["init"]);
    // Training saw different images.
    CHECK(a["epochs"][0]["train_loss"] != b["epochs"][0]["train_loss"]);

    auto too_big = run_kelvin(run + "--crop-padding 28 --out " + tmp.str("too-big"));
    CHECK(too_big.exit_code != 0);
    CHECK_MESSAGE(too_big.output.find("--crop-padding 28 must be smaller than the 28x28") !=
                      std::string::npos,
                  too_big.output);
    CHECK_FALSE(fs::exists(tmp.str("too-big")));
}

// ---- CPU vs CUDA --------------------------------------------------------------------------------

TEST_CASE("random_crop_flip CUDA kernel matches the CPU bit for bit (output poisoned)" *
          doctest::skip(!kelvin::cuda_available())) {
#if KELVIN_CUDA
    struct Case {
        int64_t n, c, h, w, padding;
        bool flip;
    };
    const std::vector<Case> cases = {{1, 1, 1, 1, 0, false}, {3, 2, 3, 3, 1, true},
                                     {5, 1, 28, 28, 2, false}, {7, 3, 5, 9, 4, true},
                                     {512, 3, 32, 32, 4, true}, {2, 3, 4, 4, 0, false}};
    for (const Case& k : cases) {
        const std::string label = shape_to_string({k.n, k.c, k.h, k.w}) + " padding " +
                                  std::to_string(k.padding) + (k.flip ? " flip" : "");
        Tensor x = random_tensor({k.n, k.c, k.h, k.w}, 50);
        const uint64_t seed = 0xC0FFEEull + k.n;
        const std::vector<float> want = cpu_crop_flip(x, k.padding, k.flip, seed);
        Tensor x_gpu = x.to(Device::CUDA);
        Tensor out_gpu = Tensor::full(x.shape(), NAN, Device::CUDA);
        cuda::random_crop_flip(x_gpu.f32(), out_gpu.f32(), k.n, k.c, k.h, k.w, k.padding, k.flip,
                               seed);
        CHECK_MESSAGE(out_gpu.to_vector() == want, label);
    }

    // The loader on the GPU delivers the batches the CPU loader does.
    const data::HostDataset d = toy_images(37, 2, 5);
    data::LoaderOptions o = toy_loading(3);
    o.crop_padding = 2;
    o.horizontal_flip = true;
    data::BatchLoader on_cpu(d, o);
    o.device = Device::CUDA;
    data::BatchLoader on_gpu(d, o);
    const std::vector<data::Batch> a = epoch_batches(on_cpu, 1), b = epoch_batches(on_gpu, 1);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) {
        CHECK(b[i].images.device() == Device::CUDA);
        CHECK_MESSAGE(b[i].images.to_vector() == a[i].images.to_vector(), "batch " << i);
    }
#endif
}
