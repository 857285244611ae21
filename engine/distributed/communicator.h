// The processes of a data-parallel run and the collectives they use (docs/CLUSTER.md).
//
// A process belongs to one world: a single process (rank 0 of 1, every collective the identity)
// unless it was launched under mpirun or srun with more than one rank, when `world()` is the MPI
// communicator made by `start_world()`. Every collective is called by every rank in the same
// order, with the same sizes: a rank that skips one (or fails before it) would leave the others
// waiting, so a failure ends the whole job instead (`abort_world`, docs: "Errors, not hangs").
#pragma once

#include <cstdint>
#include <memory>
#include <string>

namespace kelvin::distributed {

class Communicator {
public:
    virtual ~Communicator() = default;
    virtual int rank() const = 0;
    virtual int world_size() const = 0;
    // This process's index among the ranks on its node: which GPU it drives.
    virtual int local_rank() const = 0;
    // In-place sums over the ranks, of host buffers; every rank receives the same result.
    virtual void allreduce_sum(float* data, int64_t count) = 0;
    virtual void allreduce_sum(double* data, int64_t count) = 0;
    virtual void allreduce_max(int64_t* data, int64_t count) = 0;
    // Non-blocking in-place sum (MPI_Iallreduce): starts the sum of `data` over the ranks and
    // returns at once; `data` must stay untouched until wait_started() returns. Every rank starts
    // the same sums in the same order. Communicators without such a call (the default) sum at
    // once. The result equals allreduce_sum's only where the backend reduces both in one order
    // (true of two ranks, whose sum commutes); GradientReducer uses this call in both of its
    // modes, so overlapping or not gives the same bits.
    virtual void start_allreduce_sum(float* data, int64_t count) { allreduce_sum(data, count); }
    // Lets started sums advance (MPI_Testall): OpenMPI moves a non-blocking collective only
    // inside MPI calls, so a rank busy computing calls this now and then.
    virtual void progress() {}
    // Returns once every started sum is complete.
    virtual void wait_started() {}
    // `bytes` bytes from rank `root` to every rank.
    virtual void broadcast(void* data, int64_t bytes, int root) = 0;
    virtual void barrier() = 0;
    // Ends every rank of the job with `code`, from any one of them.
    [[noreturn]] virtual void abort(int code) = 0;
    // What backs the collectives: "single process", "MPI", ...
    virtual std::string name() const = 0;
};

// The one-process world: every collective leaves its data as it is.
class SingleProcess : public Communicator {
public:
    int rank() const override { return 0; }
    int world_size() const override { return 1; }
    int local_rank() const override { return 0; }
    void allreduce_sum(float*, int64_t) override {}
    void allreduce_sum(double*, int64_t) override {}
    void allreduce_max(int64_t*, int64_t) override {}
    void broadcast(void*, int64_t, int) override {}
    void barrier() override {}
    [[noreturn]] void abort(int code) override;
    std::string name() const override { return "single process"; }
};

// This process's world (SingleProcess until start_world found a launch of several ranks).
Communicator& world();
// Replaces the world (tests use it with an in-process communicator); returns the previous one.
std::unique_ptr<Communicator> set_world(std::unique_ptr<Communicator> communicator);

// Whether this build can train across processes (KELVIN_MPI).
bool mpi_built();
// The launcher's word on how many ranks the job has, from the environment (OMPI_COMM_WORLD_SIZE
// of OpenMPI's mpirun, PMI_SIZE / PMIX_* of srun and other PMI launchers); 1 when none is set.
int launched_world_size();
// Who started the ranks, by the variable that announced the world size before MPI started
// (start_world records it): OpenMPI's mpirun (OMPI_COMM_WORLD_SIZE), srun
// (SLURM_STEP_NUM_TASKS), another PMI launcher such as MPICH's mpiexec (PMI_SIZE); kNone in a
// single process.
enum class Launcher { kNone, kMpirun, kSrun, kMpiexec };
Launcher launcher();
// This process's rank as the launcher announces it (OMPI_COMM_WORLD_RANK, PMI_RANK, PMIX_RANK,
// SLURM_PROCID), before MPI starts; 0 when none is set.
int launched_rank();
// An output file of this process: `path` on rank 0 (or in a single process), `path.rankR` on
// rank R > 0, so that the ranks of a job do not write one file (--trace, --profile-json).
std::string per_rank_path(const std::string& path);
// When the process was launched as one of several ranks: initialises MPI and makes it the
// world. Throws kelvin::Error when this build has no MPI. Idempotent.
void start_world();
// MPI_Finalize where start_world initialised MPI (at the end of main).
void stop_world();
// "rank R of N" for messages ("" in a single process).
std::string rank_label();
// Prints "kelvin: error: rank R of N: what" and ends every rank of the job with `code`; in a
// single process it only prints (the caller returns its exit code as before).
void report_failure(const std::string& what);

}  // namespace kelvin::distributed
