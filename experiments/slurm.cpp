#include "experiments/slurm.h"

#include <sys/wait.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "engine/atomic_file.h"
#include "engine/device.h"

namespace kelvin::experiments {

namespace fs = std::filesystem;

namespace {

bool all_digits(const std::string& s) {
    if (s.empty()) return false;
    for (char c : s)
        if (!std::isdigit(static_cast<unsigned char>(c))) return false;
    return true;
}

// Runs a program (looked up on PATH) with `args`, its stdout and stderr into *output; returns
// its exit status, or -1 (with the reason in *output) when it could not be started.
int run_program(const std::vector<std::string>& args, std::string* output) {
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
        *output = "cannot create a pipe";
        return -1;
    }
    const pid_t pid = ::fork();
    if (pid < 0) {
        *output = "cannot fork";
        return -1;
    }
    if (pid == 0) {
        ::dup2(pipe_fds[1], STDOUT_FILENO);
        ::dup2(pipe_fds[1], STDERR_FILENO);
        ::close(pipe_fds[0]);
        ::close(pipe_fds[1]);
        std::vector<char*> argv;
        for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
        argv.push_back(nullptr);
        ::execvp(argv[0], argv.data());
        const std::string text = args[0] + ": not found on PATH\n";
        [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, text.data(), text.size());
        ::_exit(127);
    }
    ::close(pipe_fds[1]);
    output->clear();
    char buffer[4096];
    for (ssize_t n; (n = ::read(pipe_fds[0], buffer, sizeof buffer)) > 0;) output->append(buffer, n);
    ::close(pipe_fds[0]);
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

std::string trim(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    size_t start = 0;
    while (start < s.size() && std::isspace(static_cast<unsigned char>(s[start]))) ++start;
    return s.substr(start);
}

// A sweep folder's path as a bash word (single quotes; a quote inside becomes '\'').
std::string bash_word(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

bool has_line_break(const std::string& s) { return s.find_first_of("\n\r") != std::string::npos; }

}  // namespace

void validate_slurm_options(const SlurmOptions& o) {
    // sbatch(1) --time: minutes, minutes:seconds, hours:minutes:seconds, days-hours,
    // days-hours:minutes, days-hours:minutes:seconds.
    for (char c : o.time_limit)
        KELVIN_CHECK(std::isdigit(static_cast<unsigned char>(c)) || c == ':' || c == '-',
                     "--time-limit '" + o.time_limit +
                         "': expected Slurm's time format (minutes, hours:minutes:seconds, "
                         "days-hours:minutes, ...)");
    for (const std::string* value : {&o.partition, &o.mem})
        KELVIN_CHECK(!has_line_break(*value) && value->find(' ') == std::string::npos,
                     std::string(value == &o.partition ? "--partition" : "--mem") + " '" + *value +
                         "': expected one word");
    for (const auto& arg : o.sbatch_arg)
        KELVIN_CHECK(!has_line_break(arg) && arg.rfind("-", 0) == 0,
                     "--sbatch-arg '" + arg + "': expected one sbatch option such as "
                     "--account=proj42 or --constraint=a100, on one line");
}

std::string sbatch_script(const SlurmOptions& o, const std::string& dir, int64_t runs,
                          const std::string& kelvin) {
    std::ostringstream s;
    const std::string name = fs::path(dir).filename().string();
    s << "#!/bin/bash\n"
      << "# Written by `kelvin sweep --slurm` for the sweep in " << dir << ".\n"
      << "# One array task per run: task I trains and diagnoses run I of sweep.json's \"runs\".\n"
      << "# Resubmitting this file later continues the sweep: finished runs are skipped, partial\n"
      << "# ones resumed from their last checkpoint (docs/CLUSTER.md).\n"
      << "#SBATCH --job-name=kelvin-" << (name.empty() ? "sweep" : name) << "\n"
      << "#SBATCH --array=0-" << runs - 1
      << (o.array_parallelism > 0 ? "%" + std::to_string(o.array_parallelism) : "") << "\n"
      << "#SBATCH --requeue\n"
      << "#SBATCH --open-mode=append\n"
      << "#SBATCH --signal=B:USR2@" << o.signal_seconds << "\n"
      << "#SBATCH --output=" << dir << "/slurm/logs/%A_%a.out\n"
      << "#SBATCH --cpus-per-task=" << o.cpus_per_task << "\n";
    if (!o.partition.empty()) s << "#SBATCH --partition=" << o.partition << "\n";
    if (!o.time_limit.empty()) s << "#SBATCH --time=" << o.time_limit << "\n";
    if (o.gpus_per_task > 0) s << "#SBATCH --gpus-per-task=" << o.gpus_per_task << "\n";
    if (!o.mem.empty()) s << "#SBATCH --mem=" << o.mem << "\n";
    for (const auto& arg : o.sbatch_arg) s << "#SBATCH " << arg << "\n";
    s << "\n"
      << "echo \"kelvin worker: task ${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} on $(hostname),"
         " restart ${SLURM_RESTART_COUNT:-0}, $(date -u '+%Y-%m-%d %H:%M:%S UTC')\"\n"
      << "# One CPU thread per CPU Slurm gave the task, unless the submitter chose.\n"
      << "export OMP_NUM_THREADS=${OMP_NUM_THREADS:-${SLURM_CPUS_PER_TASK:-1}}\n"
      << "# exec: kelvin becomes the batch shell, so --signal=B:USR2 and scancel --full reach it\n"
      << "# directly; it checkpoints, releases the run's lock and requeues this task.\n"
      << "exec " << bash_word(kelvin) << " sweep run-one " << bash_word(dir)
      << " --index \"$SLURM_ARRAY_TASK_ID\" --requeue\n";
    return s.str();
}

std::string submit_sweep(const SlurmOptions& o, const std::string& dir_in, int64_t runs) {
    validate_slurm_options(o);
    KELVIN_CHECK(runs > 0, "--slurm: the sweep has no runs");
    const std::string dir = fs::absolute(dir_in).lexically_normal().string();
    std::error_code error;
    const std::string kelvin = fs::read_symlink("/proc/self/exe", error).string();
    KELVIN_CHECK(!error, "--slurm: cannot find this kelvin binary's path (/proc/self/exe)");
    fs::create_directories(fs::path(dir) / "slurm" / "logs");
    const std::string script = (fs::path(dir) / "slurm" / "sweep.sbatch").string();
    write_file_atomically(script, sbatch_script(o, dir, runs, kelvin));
    if (o.dry_run) {
        std::printf("%s: written, not submitted (--dry-run); submit it with: sbatch %s\n",
                    script.c_str(), script.c_str());
        return "";
    }
    std::string output;
    const int status = run_program({"sbatch", "--parsable", script}, &output);
    KELVIN_CHECK(status == 0, "--slurm: `sbatch --parsable " + script + "` " +
                                  (status == 127 ? std::string("could not run: sbatch is not on PATH")
                                                 : "exited with status " + std::to_string(status)) +
                                  (trim(output).empty() ? "" : ": " + trim(output)));
    // --parsable prints "JOBID" or "JOBID;CLUSTER".
    std::string job = trim(output);
    if (job.find('\n') != std::string::npos) job = job.substr(job.rfind('\n') + 1);
    job = job.substr(0, job.find(';'));
    KELVIN_CHECK(all_digits(job), "--slurm: sbatch printed '" + trim(output) +
                                      "', expected the job id of the array job");
    write_file_atomically((fs::path(dir) / "slurm" / "job_id").string(), job + "\n");
    std::printf("submitted Slurm array job %s: %lld tasks (%s)\n", job.c_str(),
                static_cast<long long>(runs), script.c_str());
    std::printf("progress: kelvin sweep status %s   (Slurm's own view: squeue -r -j %s)\n",
                dir.c_str(), job.c_str());
    std::printf("logs: %s/slurm/logs/%s_<index>.out\n", dir.c_str(), job.c_str());
    return job;
}

std::string slurm_task_id() {
    const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
    const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
    if (array_job && task && all_digits(array_job) && all_digits(task))
        return std::string(array_job) + "_" + task;
    const char* job = std::getenv("SLURM_JOB_ID");
    return job && all_digits(job) ? job : "";
}

bool requeue_this_task() {
    const std::string id = slurm_task_id();
    if (id.empty()) {
        std::fprintf(stderr, "kelvin: --requeue: not in a Slurm job (no SLURM_JOB_ID); not requeued\n");
        return false;
    }
    std::fprintf(stderr, "kelvin: requeueing Slurm task %s (scontrol requeue %s)\n", id.c_str(),
                 id.c_str());
    std::fflush(stderr);
    std::string output;
    const int status = run_program({"scontrol", "requeue", id}, &output);
    if (status != 0) {
        std::fprintf(stderr, "kelvin: `scontrol requeue %s` exited with status %d%s%s\n",
                     id.c_str(), status, trim(output).empty() ? "" : ": ", trim(output).c_str());
        return false;
    }
    return true;
}

std::map<int64_t, std::string> squeue_states(const std::string& dir) {
    std::map<int64_t, std::string> states;
    std::ifstream in(fs::path(dir) / "slurm" / "job_id");
    std::string job;
    if (!(in >> job) || !all_digits(job)) return states;
    std::string output;
    // One line per array task: index|state|reason|nodes|time used.
    if (run_program({"squeue", "-h", "-r", "--states=all", "-j", job, "-o", "%K|%T|%r|%N|%M"},
                    &output) != 0)
        return states;
    std::istringstream lines(output);
    for (std::string line; std::getline(lines, line);) {
        std::vector<std::string> f;
        std::istringstream fields(line);
        for (std::string part; std::getline(fields, part, '|');) f.push_back(part);
        if (f.size() < 5 || !all_digits(f[0])) continue;
        std::string text = "Slurm " + job + "_" + f[0] + ": " + f[1];
        if (f[1] == "RUNNING") text += " on " + f[3] + " for " + f[4];
        else if (f[2] != "None" && !f[2].empty()) text += " (" + f[2] + ")";
        states[std::stoll(f[0])] = text;
    }
    return states;
}

}  // namespace kelvin::experiments
