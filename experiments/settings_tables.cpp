#include "experiments/settings_tables.h"

#include "models/registry.h"

namespace kelvin::experiments {

using namespace settings;

// The member an entry sets, as a function of its owner (members of members included).
#define KELVIN_MEMBER(Owner, member) [](Owner& o) -> ValueRef { return &o.member; }

namespace {

std::string model_list() {
    std::string out;
    for (const auto& n : models::model_names()) out += (out.empty() ? "" : " | ") + n;
    return out;
}

constexpr unsigned kRunOnly = kCli | kRunConfig;  // one run's own: a sweep has lists instead

// Integer ranges. Counts (samples, batch sizes, widths, epochs) stay within int32: data loaders,
// labels and kernel sizes index with it, and a larger number is a typo, not a setting (a batch
// size of 2^63-1 once overflowed the batch count). Step counts are int64.
constexpr double kMaxCount = 2147483647.0;
constexpr double kMaxSteps = 1e15;
Rule count_from(double low) { return {Rule::kRange, low, kMaxCount}; }

}  // namespace

const std::vector<Setting<TrainConfig>>& training_settings() {
    using T = TrainConfig;
    static const std::vector<Setting<T>> table = {
        {"model", KELVIN_MEMBER(T, model), "architecture: " + model_list(), {}, kRunOnly},
        {"temperature", KELVIN_MEMBER(T, temperature), "softmax temperature T (> 0)",
         {Rule::kPositive}, kRunOnly, "", "", "-T"},
        {"seed", KELVIN_MEMBER(T, seed), "seed for initialisation and data order", {}, kRunOnly},
        {"out", KELVIN_MEMBER(T, out), "run directory", {}, kRunOnly},
        {"device", KELVIN_MEMBER(T, device), "cpu | cuda"},
        {"epochs", KELVIN_MEMBER(T, epochs), "training epochs", count_from(1)},
        {"batch_size", KELVIN_MEMBER(T, batch_size), "samples per step", count_from(1)},
        {"optimizer", KELVIN_MEMBER(T, optimizer), "sgd | adamw",
         {Rule::kAny, 0, 0, {"sgd", "adamw"}}},
        {"lr", KELVIN_MEMBER(T, lr), "learning rate", {Rule::kPositive}},
        {"momentum", KELVIN_MEMBER(T, momentum), "SGD momentum", {Rule::kHalfOpenUnit}},
        {"weight_decay", KELVIN_MEMBER(T, weight_decay), "weight decay (decoupled for adamw)",
         {Rule::kNonNegative}},
        {"schedule", KELVIN_MEMBER(T, schedule),
         "lr schedule: constant | step (x0.1 after each third of training) | cosine (to 0)", {},
         kEverywhere, "constant, step or cosine"},
        // Bounded: warmup_epochs * steps per epoch becomes an int64 step count.
        {"warmup_epochs", KELVIN_MEMBER(T, warmup_epochs), "linear lr warm-up, in epochs",
         {Rule::kRange, 0, 1e6}},
        {"max_steps", KELVIN_MEMBER(T, max_steps), "stop after this many steps (0: no limit)",
         {Rule::kRange, 0, kMaxSteps}},
        {"track_every", KELVIN_MEMBER(T, track_every),
         "every K steps, log the rank and norm of the logits of a fixed monitoring batch to "
         "metrics.json's \"track\" (0: off)",
         {Rule::kRange, 0, kMaxSteps}},
        {"track_samples", KELVIN_MEMBER(T, track_samples), "size of that monitoring batch",
         count_from(1)},
        {"sync_batchnorm", KELVIN_MEMBER(T, sync_batchnorm),
         "data-parallel runs (mpirun/srun): BatchNorm statistics over the global batch, reduced "
         "across ranks (default: each rank's own shard, as PyTorch DDP)"},
        {"overlap_allreduce", KELVIN_MEMBER(T, overlap_allreduce),
         "data-parallel runs: all-reduce each bucket of gradients during backward, once its "
         "gradients are final (=false: all after backward; the same results, bit for bit)"},
        {"allreduce_bucket_bytes", KELVIN_MEMBER(T, allreduce_bucket_bytes),
         "data-parallel runs: gradient bytes per all-reduce bucket (smaller: the first sums "
         "start earlier in backward, more calls)",
         {Rule::kRange, 4, 1e12}},
    };
    return table;
}

const std::vector<Setting<TrainConfig>>& data_settings() {
    using T = TrainConfig;
    static const std::vector<Setting<T>> table = {
        {"dataset", KELVIN_MEMBER(T, dataset),
         "fashion-mnist | mnist | cifar10 | cifar100 | folder:PATH, optionally with "
         ":classes=0-4 or :classes=0,3,7",
         {}, kRunOnly},
        {"data_dir", KELVIN_MEMBER(T, data_dir),
         "where the data set's files are (default: /usr/share/datasets/fashion-mnist for "
         "fashion-mnist)",
         {}, kEverywhere, "a path"},
        {"train_subset", KELVIN_MEMBER(T, train_subset),
         "train on the first N samples only (0: all)", count_from(0)},
        {"eval_batch_size", KELVIN_MEMBER(T, eval_batch_size), "batch size for evaluation",
         count_from(1)},
        {"crop_padding", KELVIN_MEMBER(T, crop_padding),
         "augment training batches with a random crop of the image zero-padded by N pixels "
         "(0: off; 4 for CIFAR)",
         count_from(0)},
        {"flip", KELVIN_MEMBER(T, flip), "augment training batches with random left-right flips",
         {}, kEverywhere, "", "horizontal_flip"},
    };
    return table;
}

const std::vector<Setting<models::ModelOptions>>& model_settings() {
    using M = models::ModelOptions;
    // init_scale and head_norm are lists in a sweep (init_scales, head_norms), so a sweep's
    // sweep.json records their defaults but does not accept them as keys.
    constexpr unsigned kNotSweepKey = kCli | kRunConfig | kSweepRecord;
    static const std::vector<Setting<M>> table = {
        {"depth", KELVIN_MEMBER(M, depth), "mlp: linear layers, classifier included",
         count_from(1)},
        {"width", KELVIN_MEMBER(M, width), "mlp: hidden units per layer", count_from(1)},
        {"activation", KELVIN_MEMBER(M, activation), "mlp: relu | gelu", {}, kEverywhere,
         "relu or gelu"},
        {"norm", KELVIN_MEMBER(M, norm),
         "mlp: normalisation after each hidden linear layer: none | batchnorm | layernorm", {},
         kEverywhere, "none, batchnorm or layernorm"},
        {"head_norm", KELVIN_MEMBER(M, head_norm),
         "classifier head: none | layernorm (before the classifier) | normalized_logits "
         "(unit-norm logits)",
         {}, kNotSweepKey},
        {"init_scale", KELVIN_MEMBER(M, init_scale),
         "multiplier on the default initialisation (an implicit temperature)", {Rule::kPositive},
         kNotSweepKey},
        {"base_width", KELVIN_MEMBER(M, base_width),
         "vgg/resnet: channels of the first stage (64 in the papers)", count_from(1)},
        {"stem", KELVIN_MEMBER(M, stem), "resnet: cifar (3x3 conv) | imagenet (7x7/2 + max-pool)",
         {}, kEverywhere, "cifar or imagenet"},
        {"patch", KELVIN_MEMBER(M, patch), "vit: patch side", count_from(1)},
        {"vit_width", KELVIN_MEMBER(M, vit_width), "vit: token dimension", count_from(1)},
        {"vit_depth", KELVIN_MEMBER(M, vit_depth), "vit: transformer blocks", count_from(1)},
        {"vit_heads", KELVIN_MEMBER(M, vit_heads), "vit: attention heads", count_from(1)},
        {"vit_mlp_ratio", KELVIN_MEMBER(M, vit_mlp_ratio), "vit: MLP hidden units per token unit",
         {Rule::kPositive}},
        {"vit_dropout", KELVIN_MEMBER(M, vit_dropout), "vit: dropout probability (seeded masks)",
         {Rule::kRange, 0.0, 0.99}},
    };
    return table;
}

const std::vector<Setting<DiagnoseOptions>>& diagnose_settings() {
    using D = DiagnoseOptions;
    // Not in config.json (a run's diagnostics record theirs in diagnostics.json's "settings").
    constexpr unsigned kDiagnose = kCli | kSweep | kSweepRecord;
    static const std::vector<Setting<D>> table = {
        // A sweep names its OOD sets once, in its own `ood` list.
        {"ood", KELVIN_MEMBER(D, ood),
         "out-of-distribution data set spec(s), e.g. fashion-mnist:classes=5-9", {}, kCli},
        // Recorded in sweep.json (like data_dir, not compared): a sweep's workers read it there.
        {"ood_data_dir", KELVIN_MEMBER(D, ood_data_dir), "data directory for the --ood specs", {},
         kDiagnose, "a path"},
        {"gamma", KELVIN_MEMBER(D, gamma), "rank threshold: sigma_i > gamma * sigma_1",
         {Rule::kOpenUnit}, kDiagnose},
        {"center", KELVIN_MEMBER(D, center), "subtract the mean row before the SVD", {}, kCli},
        {"samples", KELVIN_MEMBER(D, max_samples), "test samples ranked and scored",
         count_from(1), kDiagnose},
        // Two at least: NECO's fit centres the features (one sample leaves nothing) and a
        // probe's standardisation divides by their spread.
        {"probe_train_samples", KELVIN_MEMBER(D, probe_train_samples),
         "training samples for the probes and NECO's fit", count_from(2), kDiagnose},
        {"probe_epochs", KELVIN_MEMBER(D, probe.epochs), "linear probe epochs (Adam)",
         count_from(1), kDiagnose},
        {"probe_lr", KELVIN_MEMBER(D, probe.lr), "linear probe learning rate", {Rule::kPositive},
         kDiagnose},
        {"neco_dim", KELVIN_MEMBER(D, neco_dim), "principal components NECO keeps (0: classes)",
         count_from(0), kDiagnose},
        {"neco_max_logit", KELVIN_MEMBER(D, neco_max_logit),
         "multiply NECO by the max logit: auto (all but resnets) | yes | no",
         {Rule::kAny, 0, 0, {"auto", "yes", "no"}}, kCli},
    };
    return table;
}

const std::vector<Setting<SweepConfig>>& sweep_settings() {
    using S = SweepConfig;
    constexpr unsigned kSweepOnly = kSweep | kSweepRecord;
    static const std::vector<Setting<S>> table = {
        {"models", KELVIN_MEMBER(S, models), "architectures, each run with every other list",
         {}, kSweepOnly, "a model name"},
        {"datasets", KELVIN_MEMBER(S, datasets), "data set specs trained on", {}, kSweepOnly,
         "a data set spec"},
        {"ood", KELVIN_MEMBER(S, ood), "OOD data set specs every run is diagnosed on", {},
         kSweepOnly, "a data set spec"},
        {"temperatures", KELVIN_MEMBER(S, temperatures), "softmax temperatures T (> 0)", {},
         kSweepOnly},
        {"init_scales", KELVIN_MEMBER(S, init_scales), "initialisation multipliers (> 0)", {},
         kSweepOnly},
        {"head_norms", KELVIN_MEMBER(S, head_norms),
         "classifier heads: none | layernorm | normalized_logits", {}, kSweepOnly},
        {"seeds", KELVIN_MEMBER(S, seeds), "seeds, one run each", {}, kSweepOnly},
        {"diagnose", KELVIN_MEMBER(S, diagnose), "run kelvin diagnose on every finished run", {},
         kSweepOnly},
    };
    return table;
}

const std::vector<Setting<SlurmOptions>>& slurm_settings() {
    using S = SlurmOptions;
    static const std::vector<Setting<S>> table = {
        {"slurm", KELVIN_MEMBER(S, slurm),
         "sweep: write DIR/slurm/sweep.sbatch (one array task per run) and submit it with sbatch",
         {}, kCli},
        {"partition", KELVIN_MEMBER(S, partition), "Slurm partition (empty: the default one)", {},
         kCli},
        {"time_limit", KELVIN_MEMBER(S, time_limit),
         "Slurm time limit per task, e.g. 4:00:00 or 1-12:00:00 (empty: the partition's)", {},
         kCli},
        {"cpus_per_task", KELVIN_MEMBER(S, cpus_per_task), "CPUs per task (OMP_NUM_THREADS)",
         {Rule::kAtLeastOne}, kCli},
        {"gpus_per_task", KELVIN_MEMBER(S, gpus_per_task),
         "GPUs per task (0: none; give the sweep \"device\": \"cuda\" to use them)",
         {Rule::kNonNegative}, kCli},
        {"mem", KELVIN_MEMBER(S, mem), "memory per task, e.g. 16G (empty: the partition's)", {},
         kCli},
        {"array_parallelism", KELVIN_MEMBER(S, array_parallelism),
         "at most this many tasks at once (sbatch --array=...%K; 0: no limit)",
         {Rule::kNonNegative}, kCli},
        {"sbatch_arg", KELVIN_MEMBER(S, sbatch_arg),
         "one more sbatch option for the script, e.g. --account=proj42 (repeatable)", {}, kCli},
        {"signal_seconds", KELVIN_MEMBER(S, signal_seconds),
         "SIGUSR2 this many seconds before the time limit: checkpoint and requeue",
         {Rule::kRange, 0, 65535}, kCli},
        {"dry_run", KELVIN_MEMBER(S, dry_run), "with --slurm: write the script, do not submit it",
         {}, kCli},
        {"requeue", KELVIN_MEMBER(S, requeue),
         "run-one: on a signal, after the checkpoint, requeue this Slurm task (scontrol requeue)",
         {}, kCli},
    };
    return table;
}

const std::vector<Setting<InstrumentOptions>>& instrument_settings() {
    using I = InstrumentOptions;
    static const std::vector<Setting<I>> table = {
        {"trace", KELVIN_MEMBER(I, trace),
         "write a Chrome trace (JSON trace events, one per op and kernel; open in Perfetto or "
         "chrome://tracing) to this file",
         {}, kCli, "a path"},
        {"profile", KELVIN_MEMBER(I, profile),
         "print a roofline table: per kernel and shape, time, GFLOP/s, GB/s and the fraction of "
         "this machine's limit",
         {}, kCli},
        {"profile_json", KELVIN_MEMBER(I, profile_json), "also write the roofline table here", {},
         kCli, "a path"},
        {"conv_backend", KELVIN_MEMBER(I, conv_backend),
         "who runs convolutions on --device cuda: kelvin | cudnn (bench also takes both: the two "
         "step times side by side)",
         {Rule::kAny, 0, 0, {"kelvin", "cudnn", "both"}}, kCli},
    };
    return table;
}

#undef KELVIN_MEMBER

std::vector<std::string> sweep_keys() {
    std::vector<std::string> out = keys(sweep_settings(), kSweep);
    for (const auto& group : {keys(training_settings(), kSweep), keys(data_settings(), kSweep),
                              keys(model_settings(), kSweep), keys(diagnose_settings(), kSweep)})
        out.insert(out.end(), group.begin(), group.end());
    return out;
}

namespace {

template <typename Owner>
std::string markdown_group(const std::string& title, const std::vector<Setting<Owner>>& table) {
    const Owner defaults{};
    std::string out = "## " + title + "\n\n| key | flag | default | in | help |\n|---|---|---|---|---|\n";
    for (const auto& s : table) {
        std::string where;
        auto add = [&where](const char* w) { where += (where.empty() ? "" : ", ") + std::string(w); };
        if (s.scope & kCli) add("CLI");
        if (s.scope & kRunConfig) add("config.json");
        if (s.scope & kSweep) add("sweep");
        if (s.scope & kSweepRecord) add("sweep.json");
        std::string help = s.help;
        for (size_t at = help.find('|'); at != std::string::npos; at = help.find('|', at + 2))
            help.replace(at, 1, "\\|");
        out += "| `" + s.key + "` | " + ((s.scope & kCli) ? "`" + flag(s.key) + "`" : "") +
               " | `" + display(ref_of(s, defaults)) + "` | " + where + " | " + help + " |\n";
    }
    return out + "\n";
}

}  // namespace

std::string settings_markdown() {
    return "# kelvin's settings\n\n"
           "Generated from the tables in experiments/settings_tables.cpp (tests/test_settings.cpp "
           "checks that this file matches them). Each setting has one name: its key in "
           "config.json and sweep configurations, and `--key-with-dashes` on the command line. "
           "\"in\" says where it is accepted: the command line, a run's config.json, a sweep "
           "configuration's keys, and the sweep.json a sweep folder records.\n\n" +
           markdown_group("Training", training_settings()) +
           markdown_group("Data", data_settings()) +
           markdown_group("Model (config.json: model_options)", model_settings()) +
           markdown_group("Diagnose", diagnose_settings()) +
           markdown_group("Sweep only", sweep_settings()) +
           markdown_group("Cluster (kelvin sweep --slurm, kelvin sweep run-one)", slurm_settings()) +
           markdown_group("Instruments (train, bench; sweep: trace)", instrument_settings());
}

}  // namespace kelvin::experiments
