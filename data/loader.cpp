#include "data/loader.h"

#include <cmath>
#include <numeric>
#include <random>
#include <utility>

#include "engine/ops.h"
#include "kernels/dropout.h"  // splitmix64, the counter-based hash the kernels draw with

namespace kelvin::data {

void channel_statistics(const HostDataset& data, std::vector<float>& mean, std::vector<float>& std) {
    const int64_t plane = data.height * data.width;
    mean.assign(data.channels, 0.0f);
    std.assign(data.channels, 1.0f);
    for (int64_t c = 0; c < data.channels; ++c) {
        double sum = 0.0, sum_sq = 0.0;
        for (int64_t i = 0; i < data.count; ++i) {
            const uint8_t* p = data.pixels.data() + (i * data.channels + c) * plane;
            for (int64_t k = 0; k < plane; ++k) {
                double v = p[k] / 255.0;
                sum += v;
                sum_sq += v * v;
            }
        }
        const double n = std::max<double>(1.0, double(data.count) * plane);
        const double m = sum / n;
        mean[c] = static_cast<float>(m);
        const double var = std::max(0.0, sum_sq / n - m * m);
        std[c] = var > 1e-12 ? static_cast<float>(std::sqrt(var)) : 1.0f;
    }
}

uint64_t augmentation_seed(uint64_t seed, int64_t epoch, int64_t batch_index) {
    // Chained splitmix64 steps: every (seed, epoch, batch) gets its own well-mixed stream. The
    // constant keeps these streams apart from other users of the same run seed.
    const uint64_t run = splitmix64(seed, 0x6175676D656E74ull);  // "augment"
    return splitmix64(splitmix64(run, static_cast<uint64_t>(epoch)),
                      static_cast<uint64_t>(batch_index));
}

BatchLoader::BatchLoader(const HostDataset& data, LoaderOptions options)
    : data_(data), options_(std::move(options)) {
    KELVIN_CHECK(options_.batch_size > 0,
                 "batch size must be at least 1, got " + std::to_string(options_.batch_size));
    KELVIN_CHECK(data_.count > 0, data_.name + ": the data set is empty");
    if (options_.mean.empty()) channel_statistics(data_, options_.mean, options_.std);
    KELVIN_CHECK(static_cast<int64_t>(options_.mean.size()) == data_.channels &&
                     options_.std.size() == options_.mean.size(),
                 data_.name + ": normalisation has " + std::to_string(options_.mean.size()) +
                     " channels, the data has " + std::to_string(data_.channels));
    KELVIN_CHECK(options_.crop_padding >= 0 &&
                     options_.crop_padding < std::min(data_.height, data_.width),
                 data_.name + ": crop padding " + std::to_string(options_.crop_padding) +
                     " must be at least 0 and smaller than the " + std::to_string(data_.height) +
                     "x" + std::to_string(data_.width) + " images");
}

BatchLoader::~BatchLoader() { stop_worker(); }

int64_t BatchLoader::batches_per_epoch() const {
    const int64_t b = options_.batch_size;
    return options_.drop_last ? data_.count / b : (data_.count + b - 1) / b;
}

void BatchLoader::stop_worker() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
    }
    space_.notify_all();
    if (worker_.joinable()) worker_.join();
    queue_.clear();
    stopping_ = false;
    finished_ = false;
    worker_error_ = nullptr;
}

Batch BatchLoader::make_batch(const std::vector<int64_t>& order, int64_t begin, int64_t end,
                              int64_t batch_index) const {
    const int64_t count = end - begin, image = data_.image_size();
    const int64_t plane = data_.height * data_.width;
    std::vector<float> pixels(count * image);
    std::vector<int32_t> labels(count);
    for (int64_t i = 0; i < count; ++i) {
        const int64_t sample = order[begin + i];
        labels[i] = data_.labels[sample];
        const uint8_t* src = data_.pixels.data() + sample * image;
        float* dst = pixels.data() + i * image;
        for (int64_t c = 0; c < data_.channels; ++c) {
            const float scale = 1.0f / (255.0f * options_.std[c]);
            const float shift = options_.mean[c] / options_.std[c];
            for (int64_t k = 0; k < plane; ++k)
                dst[c * plane + k] = src[c * plane + k] * scale - shift;
        }
    }
    Batch batch;
    batch.images = Tensor::from_vector(
        pixels, {count, data_.channels, data_.height, data_.width}, options_.device);
    batch.labels = Tensor::from_vector(labels, {count}, options_.device);
    batch.index = batch_index;
    return batch;
}

void BatchLoader::augment(Batch& batch, int64_t epoch) const {
    batch.images = ops::random_crop_flip(batch.images, options_.crop_padding,
                                         options_.horizontal_flip,
                                         augmentation_seed(options_.seed, epoch, batch.index));
}

void BatchLoader::start_epoch(int64_t epoch, int64_t first_batch) {
    stop_worker();
    std::vector<int64_t> order(data_.count);
    std::iota(order.begin(), order.end(), 0);
    if (options_.shuffle) {
        // Seeded by (seed, epoch) alone: resuming at epoch e reproduces its order exactly.
        std::mt19937_64 gen(options_.seed * 1000003ULL + static_cast<uint64_t>(epoch));
        for (int64_t i = data_.count - 1; i > 0; --i) {
            std::uniform_int_distribution<int64_t> pick(0, i);
            std::swap(order[i], order[pick(gen)]);
        }
    }
    const int64_t batches = batches_per_epoch();
    const bool augmenting = options_.crop_padding > 0 || options_.horizontal_flip;
    worker_ = std::thread([this, order = std::move(order), batches, epoch, augmenting,
                           first_batch]() {
        for (int64_t b = std::max<int64_t>(first_batch, 0); b < batches; ++b) {
            const int64_t begin = b * options_.batch_size;
            const int64_t end = std::min<int64_t>(begin + options_.batch_size, order.size());
            Batch batch;
            try {
                batch = make_batch(order, begin, end, b);
                // Augmenting here, not in next(), keeps next() a plain hand-over and, on the CPU,
                // overlaps the crop with the caller's training step. On CUDA it is as safe from this
                // thread as from the caller's: every kelvin kernel, from any thread, runs on the one
                // legacy default stream (kernels/cuda/context.cuh), so the crop is queued after the
                // upload it reads, before any kernel the caller queues once it has the batch, and the
                // unaugmented buffer it releases can only be reused by work queued after it.

                if (augmenting) augment(batch, epoch);
            } catch (...) {
                // A failure here (out of device memory, say) must reach the caller as an
                // error, not end the process from a background thread.
                std::lock_guard<std::mutex> lock(mutex_);
                worker_error_ = std::current_exception();
                finished_ = true;
                ready_.notify_one();
                return;
            }
            std::unique_lock<std::mutex> lock(mutex_);
            space_.wait(lock, [this] { return stopping_ || queue_.size() < kQueueDepth; });
            if (stopping_) return;
            queue_.push_back(std::move(batch));
            ready_.notify_one();
        }
        std::lock_guard<std::mutex> lock(mutex_);
        finished_ = true;
        ready_.notify_one();
    });
}

bool BatchLoader::next(Batch& out) {
    std::unique_lock<std::mutex> lock(mutex_);
    ready_.wait(lock, [this] { return !queue_.empty() || finished_; });
    if (queue_.empty() && worker_error_) std::rethrow_exception(std::exchange(worker_error_, nullptr));
    if (queue_.empty()) return false;
    out = std::move(queue_.front());
    queue_.pop_front();
    space_.notify_one();
    return true;
}

Batch BatchLoader::fixed_batch(int64_t count) const {
    std::vector<int64_t> order(std::min<int64_t>(count, data_.count));
    std::iota(order.begin(), order.end(), 0);
    return make_batch(order, 0, static_cast<int64_t>(order.size()), 0);
}

}  // namespace kelvin::data
