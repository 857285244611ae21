#include "experiments/distributed_run.h"

#include <fstream>
#include <vector>

#include "engine/distributed/nccl_group.h"
#include "engine/json_errors.h"
#include "engine/interruption.h"
#include "engine/nn/norm.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;
using distributed::world;

bool writes_run_records() { return world().rank() == 0; }

void check_data_parallel(const TrainConfig& config, int64_t train_count,
                         int64_t steps_per_epoch, int64_t total_steps) {
    const int ranks = world().world_size();
    if (ranks == 1) return;
    const std::string launch = " (" + std::to_string(ranks) + " ranks)";
    KELVIN_CHECK(config.batch_size % ranks == 0,
                 "--batch-size " + std::to_string(config.batch_size) +
                     " is the global batch and must divide by the number of ranks" + launch +
                     "; choose a multiple of " + std::to_string(ranks));
    KELVIN_CHECK(parse_device(config.device) == Device::CPU || distributed::nccl_built(),
                 "--device cuda with several ranks" + launch +
                     ": this build of kelvin has no NCCL (nvcc, nccl.h and libnccl at build "
                     "time); train on --device cpu across ranks, or on one GPU with one process");
    const int64_t last = train_count - (steps_per_epoch - 1) * config.batch_size;
    KELVIN_CHECK(total_steps < steps_per_epoch || last >= ranks,
                 "the last batch of each epoch holds " + std::to_string(last) + " sample(s) (" +
                     std::to_string(train_count) + " training samples, --batch-size " +
                     std::to_string(config.batch_size) + "), fewer than the ranks" + launch +
                     ", so some rank would train on nothing; choose another --batch-size or "
                     "--train-subset");
}

int64_t smallest_normalised_batch(const TrainConfig& config, int64_t smallest_global_batch) {
    return config.sync_batchnorm ? smallest_global_batch
                                 : smallest_global_batch / world().world_size();
}

void synchronise_batch_norm(const TrainConfig& config, models::Model& model) {
    if (!config.sync_batchnorm) return;
    for (auto& [name, module] : model.named_modules())
        if (auto* bn = dynamic_cast<nn::BatchNorm2d*>(module)) bn->synchronise = &world();
}

void check_resumed_world_size(const fs::path& dir) {
    const fs::path path = dir / "config.json";
    std::ifstream in(path);
    KELVIN_CHECK(in.good(), "--resume: cannot read " + path.string());
    nlohmann::json config;
    try {
        config = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        throw Error("--resume: " + path.string() + ": " + json_error_text(e));
    }
    // Runs written before data parallelism carry no world size: they ran in one process.
    const nlohmann::json recorded =
        config.contains("world_size") ? config["world_size"] : nlohmann::json(1);
    KELVIN_CHECK(recorded.is_number_integer(), path.string() + ": 'world_size' = " +
                                                   recorded.dump() + ": expected an integer");
    const int64_t started = recorded.get<int64_t>();
    const int now = world().world_size();
    KELVIN_CHECK(started == now,
                 "--resume " + dir.string() + ": the run was started with " +
                     std::to_string(started) + " rank(s) ('world_size' in " + path.string() +
                     ") and is resumed with " + std::to_string(now) +
                     "; resume it with the same number of ranks (mpirun -np " +
                     std::to_string(started) + ")");
}

bool decided_by_rank_zero(const std::function<bool()>& decide) {
    int64_t answer = world().rank() == 0 ? (decide() ? 1 : 0) : 0;
    world().broadcast(&answer, sizeof answer, 0);
    return answer != 0;
}

void sum_epoch_totals(double& loss_sum, int64_t& correct, int64_t& seen, double base_loss_sum,
                      int64_t base_correct, int64_t base_seen) {
    if (world().world_size() == 1) return;  // a single process keeps its sums bit for bit
    double sums[3] = {loss_sum - base_loss_sum, double(correct - base_correct),
                      double(seen - base_seen)};
    world().allreduce_sum(sums, 3);
    loss_sum = base_loss_sum + sums[0];
    correct = base_correct + static_cast<int64_t>(sums[1]);
    seen = base_seen + static_cast<int64_t>(sums[2]);
}

namespace {
StopCause g_stop_cause;
}

bool stop_requested_on_any_rank() {
    if (world().world_size() == 1) {
        g_stop_cause = {stop_signal(), 0};
        return g_stop_cause.signal != 0;
    }
    // One slot per rank, each rank's own signal (0: none); the maximum is each slot's owner's.
    // The answer comes from the slots alone: a signal arriving during the all-reduce waits for
    // the next boundary on every rank (reading stop_signal() again here would stop this rank
    // alone).
    std::vector<int64_t> signals(world().world_size(), 0);
    signals[world().rank()] = stop_signal();
    world().allreduce_max(signals.data(), int64_t(signals.size()));
    g_stop_cause = {};
    if (signals[world().rank()])
        g_stop_cause = {static_cast<int>(signals[world().rank()]), world().rank()};
    for (size_t r = 0; r < signals.size() && !g_stop_cause.signal; ++r)
        if (signals[r]) g_stop_cause = {static_cast<int>(signals[r]), static_cast<int>(r)};
    return g_stop_cause.signal != 0;
}

StopCause stop_cause() { return g_stop_cause; }

std::string launcher_prefix() {
    const int ranks = world().world_size();
    if (ranks == 1) return "";
    const std::string n = std::to_string(ranks) + " ";
    switch (distributed::launcher()) {
        case distributed::Launcher::kSrun: return "srun -n " + n;
        case distributed::Launcher::kMpiexec: return "mpiexec -n " + n;
        default: return "mpirun -np " + n;
    }
}

}  // namespace kelvin::experiments
