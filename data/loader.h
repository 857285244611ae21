// Batches from a host data set, delivered on the chosen device. A background thread converts
// the next batch (bytes -> normalised floats) and copies it to the device while the caller
// trains on the current one. The order of an epoch depends only on (seed, epoch), and a batch's
// augmentation only on (seed, epoch, batch index), so a resumed run sees exactly the batches an
// uninterrupted one would.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/host_dataset.h"
#include "engine/tensor.h"

namespace kelvin::data {

struct Batch {
    Tensor images;  // f32 [B, C, H, W] on the loader's device
    Tensor labels;  // i32 [B]
    int64_t index = 0;
};

struct LoaderOptions {
    int64_t batch_size = 128;
    bool shuffle = true;
    bool drop_last = false;
    uint64_t seed = 0;
    Device device = Device::CPU;
    // Per-channel normalisation applied to pixel / 255; empty = the data set's own statistics.
    std::vector<float> mean, std;
    // Training augmentation (the CIFAR recipe), applied on `device` to every batch of an epoch,
    // never to fixed_batch: RandomCrop(H x W, padding = crop_padding), zero-padded after
    // normalisation, then RandomHorizontalFlip when horizontal_flip. 0 and false: none.
    int64_t crop_padding = 0;
    bool horizontal_flip = false;
};

// The seed of batch `batch_index`'s augmentation in epoch `epoch` (kernels/augment.h).
uint64_t augmentation_seed(uint64_t seed, int64_t epoch, int64_t batch_index);

// Per-channel mean and standard deviation of pixel / 255 over the whole set.
void channel_statistics(const HostDataset& data, std::vector<float>& mean, std::vector<float>& std);

class BatchLoader {
public:
    BatchLoader(const HostDataset& data, LoaderOptions options);
    ~BatchLoader();
    BatchLoader(const BatchLoader&) = delete;
    BatchLoader& operator=(const BatchLoader&) = delete;

    // Begins prefetching epoch `epoch` (0-based) from its batch `first_batch`: a run resumed
    // from a checkpoint taken mid-epoch continues with exactly the batches it had not seen.
    void start_epoch(int64_t epoch, int64_t first_batch = 0);
    bool next(Batch& out);            // false once the epoch is exhausted
    int64_t batches_per_epoch() const;
    int64_t samples() const { return data_.count; }
    const LoaderOptions& options() const { return options_; }
    // The first `count` samples in data-set order, as one batch (monitoring, evaluation).
    Batch fixed_batch(int64_t count) const;

private:
    // Samples order[begin..end) as one batch.
    Batch make_batch(const std::vector<int64_t>& order, int64_t begin, int64_t end,
                     int64_t batch_index) const;
    // Replaces batch.images by its random crop and flip, computed on the loader's device.
    void augment(Batch& batch, int64_t epoch) const;
    void stop_worker();

    const HostDataset& data_;
    LoaderOptions options_;
    std::thread worker_;
    std::mutex mutex_;
    std::condition_variable ready_, space_;
    std::deque<Batch> queue_;
    bool finished_ = false, stopping_ = false;
    std::exception_ptr worker_error_;  // a failure in the worker, rethrown by next()
    static constexpr size_t kQueueDepth = 2;
};

}  // namespace kelvin::data
