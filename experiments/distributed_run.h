// What `kelvin train` does differently when it is one of several ranks of a data-parallel run
// (engine/distributed/; docs/CLUSTER.md): the checks made before anything trains, the
// run records that only rank 0 writes, and the sums over the ranks of an epoch's totals.
// In a single process every function here is a no-op or the identity.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include "engine/distributed/communicator.h"
#include "experiments/train.h"

namespace kelvin::experiments {

// Rank 0 writes config.json, metrics.json, checkpoints and diagnostics; the others only train.
bool writes_run_records();

// Refuses, before the run directory is touched, what a data-parallel run cannot do: a global
// --batch-size that does not divide by the world size, a last batch with fewer samples than
// ranks (some rank would get none), --device cuda across ranks (not built: see the docs).
void check_data_parallel(const TrainConfig& config, int64_t train_count,
                         int64_t steps_per_epoch, int64_t total_steps);

// The samples of the smallest shard any rank trains on, for the BatchNorm check: the
// per-replica batch with per-replica statistics, the global batch with --sync-batchnorm.
int64_t smallest_normalised_batch(const TrainConfig& config, int64_t smallest_global_batch);

// --sync-batchnorm: every BatchNorm2d of the model uses the global batch's statistics.
void synchronise_batch_norm(const TrainConfig& config, models::Model& model);

// --resume with another number of ranks than the run was started with is refused (the data
// order per rank, and the BatchNorm statistics without --sync-batchnorm, would change).
void check_resumed_world_size(const std::filesystem::path& dir);

// `decide` runs on rank 0 alone (it may repair or read the run directory) and its answer goes
// to every rank; the others wait for it.
bool decided_by_rank_zero(const std::function<bool()>& decide);

// loss_sum, correct and seen of an epoch, summed over the ranks: each rank's values beyond the
// base (the totals of a mid-epoch checkpoint, already every rank's) are its own.
void sum_epoch_totals(double& loss_sum, int64_t& correct, int64_t& seen, double base_loss_sum,
                      int64_t base_correct, int64_t base_seen);

// The step boundary's check: whether a signal (engine/interruption.h) reached any rank, so that
// every rank stops at the same step.
bool stop_requested_on_any_rank();
// After that said yes: the signal that stops the run and the rank it reached (this rank's own
// signal when it got one, else the lowest rank's that did), for the interrupted record.
struct StopCause {
    int signal = 0;
    int rank = 0;
};
StopCause stop_cause();

// How this process was launched, for a command the user reruns (the resume hint): "mpirun -np N ",
// "srun -n N " or "mpiexec -n N " before kelvin's own words on several ranks; "" in one process.
std::string launcher_prefix();

}  // namespace kelvin::experiments
