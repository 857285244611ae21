#include "experiments/sweep_processes.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <algorithm>
#include <map>
#include <thread>

#include "engine/device.h"  // KELVIN_CHECK
#include "engine/interruption.h"
#include "engine/phase_progress.h"

extern char** environ;

namespace kelvin::experiments {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// This process's environment with OMP_NUM_THREADS=threads.
std::vector<std::string> worker_environment(int threads) {
    std::vector<std::string> env;
    for (char** e = environ; *e != nullptr; ++e)
        if (std::strncmp(*e, "OMP_NUM_THREADS=", 16) != 0) env.emplace_back(*e);
    env.emplace_back("OMP_NUM_THREADS=" + std::to_string(threads));
    return env;
}

struct Worker {
    size_t run = 0;  // index into runs
    Clock::time_point start;
    int threads = 1;
};

// Starts `executable sweep run-one DIR --index I`, its stdout and stderr into `log`, in a
// process group of its own. Everything the child needs is built before fork(): after it, only
// async-signal-safe calls.
pid_t start_worker(const std::string& executable, const std::string& out_dir, size_t index,
                   const fs::path& log, const std::vector<std::string>& env) {
    const std::string index_text = std::to_string(index);
    std::vector<std::string> args = {executable, "sweep", "run-one", out_dir, "--index", index_text};
    std::vector<char*> argv, envp;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    for (std::string& e : env_copy) envp.push_back(e.data());
    envp.push_back(nullptr);
    const int fd = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    KELVIN_CHECK(fd >= 0, "sweep: cannot open " + log.string() + ": " + std::strerror(errno));
    const pid_t pid = ::fork();
    if (pid == 0) {
        ::setpgid(0, 0);
        ::dup2(fd, STDOUT_FILENO);
        ::dup2(fd, STDERR_FILENO);
        ::execve(argv[0], argv.data(), envp.data());
        static const char message[] = "sweep: cannot start the worker process\n";
        [[maybe_unused]] ssize_t n = ::write(STDERR_FILENO, message, sizeof message - 1);
        ::_exit(127);
    }
    ::close(fd);
    KELVIN_CHECK(pid > 0, std::string("sweep: cannot fork a worker: ") + std::strerror(errno));
    return pid;
}

double cpu_seconds(const rusage& usage) {
    return usage.ru_utime.tv_sec + usage.ru_stime.tv_sec +
           1e-6 * (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// "finished", "left to the process that holds it", "interrupted by SIGINT", "failed (exit
// status 1)". run-one exits 0 also for a run another process holds: its folder tells them apart.
std::string outcome_text(int status, bool finished, bool* failed, int* stopped_by) {
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return finished ? "finished" : "left to the process that holds it";
    const int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    for (int signal : {SIGINT, SIGTERM, SIGUSR2})
        if (code == exit_code_for(signal)) {
            *stopped_by = signal;
            return std::string("interrupted by ") + signal_name(signal);
        }
    *failed = true;
    return "failed (exit status " + std::to_string(code) + ")";
}

}  // namespace

ProcessSweepResult run_sweep_in_processes(const std::string& out_dir,
                                          const std::vector<SweepRun>& runs, int workers,
                                          const std::string& executable) {
    KELVIN_CHECK(workers >= 1, "sweep: workers must be at least 1, got " + std::to_string(workers));
    const fs::path runs_dir = fs::path(out_dir) / "runs", logs_dir = fs::path(out_dir) / "logs";
    fs::create_directories(logs_dir);
    std::vector<size_t> pending;
    for (size_t i = 0; i < runs.size(); ++i)
        if (!fs::exists(runs_dir / runs[i].name)) pending.push_back(i);
    // Runs go `workers` at a time, one thread each. The last pending.size() % workers runs would
    // leave cores idle while they train: they start together once every other run is done,
    // sharing all the threads (the 15 demo runs on 2 cores: 7 pairs, then one run on both).
    const size_t total = pending.size();
    size_t rest = total % size_t(workers);
    const int rest_threads = rest > 0 ? workers / int(rest) : 1;
    if (rest_threads == 1) rest = 0;  // no thread to spare: they start like the others
    const std::vector<std::string> env = worker_environment(1), rest_env = worker_environment(rest_threads);
    std::map<pid_t, Worker> active;
    ProcessSweepResult result;
    const auto start = Clock::now();
    size_t next = 0, done = 0;
    bool passed_on = false;
    while (next < pending.size() || !active.empty()) {
        if (stop_requested() && !passed_on) {  // once: a second SIGINT would kill a worker at once
            for (const auto& [pid, w] : active) ::kill(pid, stop_signal());
            passed_on = true;
        }
        while (!stop_requested() && next < pending.size() && active.size() < size_t(workers)) {
            const bool in_rest = next >= total - rest;
            if (in_rest && !active.empty() && active.begin()->second.threads == 1) break;
            const size_t run = pending[next++];
            const fs::path log = logs_dir / (runs[run].name + ".log");
            const int threads = in_rest ? rest_threads : 1;
            active[start_worker(executable, out_dir, run, log, in_rest ? rest_env : env)] = {
                run, Clock::now(), threads};
            std::fprintf(stderr, "sweep: %s started (%zu at a time, %d thread%s each; log %s)\n",
                         runs[run].name.c_str(), active.size(), threads, threads > 1 ? "s" : "",
                         log.c_str());
        }
        if (stop_requested() && next < pending.size()) next = pending.size();  // start no more
        int status = 0;
        rusage usage{};
        const pid_t pid = ::wait4(-1, &status, WNOHANG, &usage);
        if (pid <= 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
            continue;
        }
        auto it = active.find(pid);
        if (it == active.end()) continue;  // not one of ours
        const std::string& name = runs[it->second.run].name;
        bool failed = false;
        const bool finished = fs::exists(runs_dir / name);
        const std::string outcome = outcome_text(status, finished, &failed, &result.stopped_by);
        ++done;
        if (failed) result.failed.push_back(name);
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && finished) ++result.trained;
        result.cpu_seconds += cpu_seconds(usage);
        const double elapsed = seconds_since(start);
        const double left = estimate_remaining(elapsed, int64_t(done), int64_t(total));
        std::fprintf(stderr, "[%zu/%zu] %s: %s in %s (%.0f s CPU); %s elapsed%s\n", done, total,
                     name.c_str(), outcome.c_str(),
                     format_duration(seconds_since(it->second.start)).c_str(), cpu_seconds(usage),
                     format_duration(elapsed).c_str(),
                     left >= 0 && done < total ? (", ~" + format_duration(left) + " left").c_str() : "");
        if (failed) std::fprintf(stderr, "  see %s\n", (logs_dir / (name + ".log")).c_str());
        active.erase(it);
    }
    if (result.stopped_by == 0) result.stopped_by = stop_signal();
    if (result.trained > 0)
        std::fprintf(stderr, "sweep: %d runs trained in %s, %zu at a time; %.0f s CPU (user + sys)\n",
                     result.trained, format_duration(seconds_since(start)).c_str(), size_t(workers),
                     result.cpu_seconds);
    return result;
}

}  // namespace kelvin::experiments
