// A sweep as a Slurm job array: `kelvin sweep --config C --out DIR --slurm` writes
// DIR/slurm/sweep.sbatch (one array task per run, task I running `kelvin sweep run-one DIR
// --index I`) and submits it with sbatch; a worker stopped by Slurm's signal requeues its own
// task after its checkpoint. docs/CLUSTER.md explains the script and the cluster settings.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace kelvin::experiments {

// The sbatch settings, from the settings tables (slurm_settings(), experiments/settings_tables.h).
struct SlurmOptions {
    bool slurm = false;               // submit the sweep as an array job instead of running it
    std::string partition;            // empty: the cluster's default partition
    std::string time_limit;           // sbatch --time; empty: the partition's default
    int cpus_per_task = 1;
    int gpus_per_task = 0;
    std::string mem;                  // sbatch --mem, e.g. 16G; empty: the partition's default
    int array_parallelism = 0;        // at most this many tasks at once (%K; 0: no limit)
    std::vector<std::string> sbatch_arg;  // more sbatch options, one per entry
    int signal_seconds = 300;         // SIGUSR2 this long before the time limit
    bool dry_run = false;             // write the script, do not submit it
    bool requeue = false;             // run-one: on a signal, requeue this task after the checkpoint
};

// Throws kelvin::Error naming the option when a value cannot go into an sbatch script.
void validate_slurm_options(const SlurmOptions& options);

// The text of DIR/slurm/sweep.sbatch for a sweep of `runs` runs. `dir` and `kelvin` (the binary
// the tasks run) must be absolute: the tasks may start in another folder.
std::string sbatch_script(const SlurmOptions& options, const std::string& dir, int64_t runs,
                          const std::string& kelvin);

// Writes the script (and DIR/slurm/logs/) and, unless dry_run, submits it; prints what it did,
// the job id and the command that shows progress. Returns the job id ("" for a dry run).
std::string submit_sweep(const SlurmOptions& options, const std::string& dir, int64_t runs);

// In a Slurm job: "JOBID_TASKID" of this array task (or the job id of a plain job), else "".
std::string slurm_task_id();

// Runs `scontrol requeue <slurm_task_id()>`; false (with the reason on stderr) when that fails
// or this is not a Slurm job. Slurm cancels the running task at once: release locks first.
bool requeue_this_task();

// Slurm's view of the array tasks of the sweep's last submitted job (DIR/slurm/job_id), by task
// index: "RUNNING on node3 for 1:02:03", "PENDING (BeginTime)". Empty without squeue or a job.
std::map<int64_t, std::string> squeue_states(const std::string& dir);

}  // namespace kelvin::experiments
