// Ranks simulated by threads of one process, for testing collectives' users without MPI: each
// thread holds a ThreadCommunicator of one ThreadGroup. A collective posts every rank's buffer,
// waits for all, and each rank combines them in rank order (the same result on every rank).
#pragma once

#include <condition_variable>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <vector>

#include "engine/distributed/communicator.h"

namespace kelvin::testing {

class ThreadGroup {
public:
    explicit ThreadGroup(int size) : size_(size), posted_(size, nullptr) {}
    int size() const { return size_; }
    void barrier() {
        std::unique_lock<std::mutex> lock(mutex_);
        const uint64_t generation = generation_;
        if (++arrived_ == size_) {
            arrived_ = 0;
            ++generation_;
            changed_.notify_all();
        } else {
            changed_.wait(lock, [&] { return generation_ != generation; });
        }
    }
    // Every rank's buffer, once all have posted; valid until the closing barrier.
    void post(int rank, void* data) {
        posted_[rank] = data;
        barrier();
    }
    void* posted(int rank) const { return posted_[rank]; }

private:
    int size_;
    std::mutex mutex_;
    std::condition_variable changed_;
    int arrived_ = 0;
    uint64_t generation_ = 0;
    std::vector<void*> posted_;
};

class ThreadCommunicator : public distributed::Communicator {
public:
    ThreadCommunicator(ThreadGroup& group, int rank) : group_(group), rank_(rank) {}
    int rank() const override { return rank_; }
    int world_size() const override { return group_.size(); }
    int local_rank() const override { return rank_; }
    void allreduce_sum(float* data, int64_t count) override { combine(data, count, false); }
    void allreduce_sum(double* data, int64_t count) override { combine(data, count, false); }
    void allreduce_max(int64_t* data, int64_t count) override { combine(data, count, true); }
    void broadcast(void* data, int64_t bytes, int root) override {
        std::vector<char> copy(static_cast<char*>(data), static_cast<char*>(data) + bytes);
        group_.post(rank_, copy.data());
        std::memcpy(data, group_.posted(root), bytes);
        group_.barrier();
    }
    void barrier() override { group_.barrier(); }
    [[noreturn]] void abort(int) override { throw std::logic_error("ThreadCommunicator::abort"); }
    std::string name() const override { return "threads"; }

private:
    template <typename T>
    void combine(T* data, int64_t count, bool max) {
        std::vector<T> mine(data, data + count);
        group_.post(rank_, mine.data());
        for (int64_t i = 0; i < count; ++i) {
            T acc = static_cast<const T*>(group_.posted(0))[i];
            for (int r = 1; r < group_.size(); ++r) {
                const T v = static_cast<const T*>(group_.posted(r))[i];
                acc = max ? std::max(acc, v) : acc + v;
            }
            data[i] = acc;
        }
        group_.barrier();
    }
    ThreadGroup& group_;
    int rank_;
};

}  // namespace kelvin::testing
