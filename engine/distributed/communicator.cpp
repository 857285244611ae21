#include "engine/distributed/communicator.h"

#include <cstdio>
#include <cstdlib>
#include <optional>

#include "kernels/error.h"

namespace kelvin::distributed {

// Made by mpi_communicator.cpp when KELVIN_MPI; null otherwise.
std::unique_ptr<Communicator> make_mpi_world();
void finalize_mpi();

namespace {

std::unique_ptr<Communicator>& world_slot() {
    static std::unique_ptr<Communicator> slot = std::make_unique<SingleProcess>();
    return slot;
}

// A positive integer from the environment, or 0 when `name` is unset or not one.
int env_count(const char* name) {
    const char* v = std::getenv(name);
    if (!v || !*v) return 0;
    char* end = nullptr;
    const long n = std::strtol(v, &end, 10);
    return (*end == '\0' && n > 0 && n < (1 << 24)) ? static_cast<int>(n) : 0;
}

}  // namespace

void SingleProcess::abort(int code) { std::exit(code); }

Communicator& world() { return *world_slot(); }

std::unique_ptr<Communicator> set_world(std::unique_ptr<Communicator> communicator) {
    std::unique_ptr<Communicator> previous = std::move(world_slot());
    world_slot() = std::move(communicator);
    return previous;
}

bool mpi_built() { return KELVIN_MPI != 0; }

int launched_world_size() {
    // OpenMPI's mpirun; MPICH's hydra and srun --mpi=pmi2; srun's own step size (srun --mpi=pmix
    // sets PMIX_RANK but no size of its own).
    for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_STEP_NUM_TASKS"})
        if (const int n = env_count(name)) return n;
    return 1;
}

namespace {
// The launcher as the environment says now (MPI_Init may add variables of its own later).
Launcher launcher_from_environment() {
    if (launched_world_size() <= 1) return Launcher::kNone;
    if (env_count("OMPI_COMM_WORLD_SIZE")) return Launcher::kMpirun;
    if (env_count("SLURM_STEP_NUM_TASKS") == launched_world_size()) return Launcher::kSrun;
    return Launcher::kMpiexec;
}
std::optional<Launcher> g_launcher;  // recorded by start_world, before MPI starts
}  // namespace

Launcher launcher() { return g_launcher ? *g_launcher : launcher_from_environment(); }

int launched_rank() {
    if (launched_world_size() <= 1) return 0;
    for (const char* name : {"OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"})
        if (const char* v = std::getenv(name); v && *v) return std::atoi(v);
    return 0;
}

std::string per_rank_path(const std::string& path) {
    const int rank = launched_rank();
    return path.empty() || rank == 0 ? path : path + ".rank" + std::to_string(rank);
}

void start_world() {
    if (world().world_size() > 1 || launched_world_size() <= 1) return;
    g_launcher = launcher_from_environment();
    KELVIN_CHECK(mpi_built(),
                 "this process is one of " + std::to_string(launched_world_size()) +
                     " ranks (launched by mpirun or srun), but distributed training needs MPI "
                     "and this kelvin was built without it: install libopenmpi-dev "
                     "(scripts/install-deps.sh) and rebuild, or run a single process");
    set_world(make_mpi_world());
}

void stop_world() {
    if (!mpi_built()) return;
    set_world(std::make_unique<SingleProcess>());
    finalize_mpi();
}

std::string rank_label() {
    const Communicator& w = world();
    if (w.world_size() == 1) return "";
    return "rank " + std::to_string(w.rank()) + " of " + std::to_string(w.world_size());
}

void report_failure(const std::string& what) {
    const std::string label = rank_label();
    std::fprintf(stderr, "kelvin: error: %s%s%s\n", label.c_str(), label.empty() ? "" : ": ",
                 what.c_str());
    std::fflush(stderr);
    // The other ranks may be waiting in a collective this one will never join: end them too.
    if (world().world_size() > 1) world().abort(2);
}

}  // namespace kelvin::distributed
