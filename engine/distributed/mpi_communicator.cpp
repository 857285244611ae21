// The world of a job launched by mpirun or srun: MPI_COMM_WORLD. Collectives use MPI's default
// error handler (MPI_ERRORS_ARE_FATAL): a peer that died makes the collective end the job rather
// than wait for it.
#include <memory>

#include "engine/distributed/communicator.h"
#include "kernels/error.h"

#if KELVIN_MPI
#include <mpi.h>

#include <cstdlib>
#include <limits>
#include <vector>

namespace kelvin::distributed {

namespace {

// MPI counts are ints: large buffers go in pieces.
template <typename F>
void in_chunks(int64_t count, F&& f) {
    constexpr int64_t kChunk = std::numeric_limits<int>::max() / 2;
    for (int64_t begin = 0; begin < count; begin += kChunk)
        f(begin, static_cast<int>(std::min(kChunk, count - begin)));
}

// The node-local rank the launcher announces (OpenMPI, Slurm, MPICH), else MPI's own answer:
// the rank among the processes that share memory with this one.
int find_local_rank() {
    for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID", "MPI_LOCALRANKID"})
        if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
    MPI_Comm node;
    MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
    int local = 0;
    MPI_Comm_rank(node, &local);
    MPI_Comm_free(&node);
    return local;
}

class MpiWorld : public Communicator {
public:
    MpiWorld() {
        MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
        MPI_Comm_size(MPI_COMM_WORLD, &size_);
        local_rank_ = find_local_rank();
    }
    int rank() const override { return rank_; }
    int world_size() const override { return size_; }
    int local_rank() const override { return local_rank_; }
    void allreduce_sum(float* data, int64_t count) override {
        in_chunks(count, [&](int64_t begin, int n) {
            MPI_Allreduce(MPI_IN_PLACE, data + begin, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        });
    }
    void allreduce_sum(double* data, int64_t count) override {
        in_chunks(count, [&](int64_t begin, int n) {
            MPI_Allreduce(MPI_IN_PLACE, data + begin, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
        });
    }
    void allreduce_max(int64_t* data, int64_t count) override {
        in_chunks(count, [&](int64_t begin, int n) {
            MPI_Allreduce(MPI_IN_PLACE, data + begin, n, MPI_INT64_T, MPI_MAX, MPI_COMM_WORLD);
        });
    }
    void start_allreduce_sum(float* data, int64_t count) override {
        in_chunks(count, [&](int64_t begin, int n) {
            requests_.emplace_back();
            MPI_Iallreduce(MPI_IN_PLACE, data + begin, n, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD,
                           &requests_.back());
        });
    }
    void progress() override {
        if (requests_.empty()) return;
        int done = 0;
        MPI_Testall(int(requests_.size()), requests_.data(), &done, MPI_STATUSES_IGNORE);
        if (done) requests_.clear();
    }
    void wait_started() override {
        MPI_Waitall(int(requests_.size()), requests_.data(), MPI_STATUSES_IGNORE);
        requests_.clear();
    }
    void broadcast(void* data, int64_t bytes, int root) override {
        in_chunks(bytes, [&](int64_t begin, int n) {
            MPI_Bcast(static_cast<char*>(data) + begin, n, MPI_BYTE, root, MPI_COMM_WORLD);
        });
    }
    void barrier() override { MPI_Barrier(MPI_COMM_WORLD); }
    [[noreturn]] void abort(int code) override {
        MPI_Abort(MPI_COMM_WORLD, code);
        std::_Exit(code);  // MPI_Abort does not return; this keeps [[noreturn]] honest
    }
    std::string name() const override { return "MPI"; }

private:
    int rank_ = 0, size_ = 1, local_rank_ = 0;
    std::vector<MPI_Request> requests_;  // started non-blocking sums (MPI_REQUEST_NULL once done)
};

}  // namespace

std::unique_ptr<Communicator> make_mpi_world() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
        // Only the main thread calls MPI (the data loader's thread never does).
        int provided = 0;
        MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided);
    }
    return std::make_unique<MpiWorld>();
}

void finalize_mpi() {
    int initialized = 0, finalized = 0;
    MPI_Initialized(&initialized);
    MPI_Finalized(&finalized);
    if (initialized && !finalized) MPI_Finalize();
}

}  // namespace kelvin::distributed

#else

namespace kelvin::distributed {

std::unique_ptr<Communicator> make_mpi_world() {
    throw Error("distributed training needs MPI, and this kelvin was built without it");
}
void finalize_mpi() {}

}  // namespace kelvin::distributed

#endif
