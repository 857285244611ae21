// One writer per run or sweep folder: a lock file that works where flock(2) may not (NFS).
//
// The lock is a small JSON file (host, pid, the pid's start time, Slurm job id, start time,
// command, a random token) written to a unique temporary name and published with link(2),
// which is atomic on local file systems and on NFS; so it appears complete or not at all, and of
// two processes that race for it exactly one wins. Whoever fails is told who holds it.
//
// A lock left behind is taken over, with a message, when its holder is certainly gone:
// - on the same host, when its pid no longer runs, or runs but started at another time (the
//   pid was reused);
// - on another host, which this one cannot ask, when its heartbeat (the lock file's
//   modification time, refreshed by the holder every heartbeat_interval) is older than
//   stale_after. stale_after must exceed the longest pause of a live holder plus the clock
//   skew between the hosts; the default (10 minutes against a 1-minute heartbeat) leaves room
//   for both. A lock of another host younger than that is respected, however old its run.
// Taking over is itself serialised by a second lock (PATH.takeover), so two processes that find
// the same stale lock cannot both take it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace kelvin {

struct LockHolder {
    std::string host;
    int64_t pid = 0;
    uint64_t pid_start = 0;      // the process's start time in clock ticks since boot (Linux)
    std::string slurm_job_id;    // SLURM_JOB_ID (with SLURM_ARRAY_TASK_ID) or empty
    int64_t started_at = 0;      // Unix seconds
    std::string command;         // what the holder is doing, e.g. "kelvin sweep configs/a.json"
    std::string token;           // random, tells this lock from an earlier one of the same pid
    // "pid 4242 on node17 (Slurm job 991), since 2026-12-01 20:31:05 UTC: kelvin train ..."
    std::string describe() const;
};

struct RunLockOptions {
    std::string command;                                  // recorded in the lock
    std::chrono::seconds stale_after{600};                // another host's lock is stale after this
    std::chrono::seconds heartbeat_interval{60};          // 0: no background heartbeat
};

class RunLock {
public:
    // Takes the lock at `path` (its folder must exist) or throws kelvin::Error naming the holder
    // and what to do. A stale lock is taken over; takeover_note() then says whose it was.
    static RunLock acquire(const std::filesystem::path& path, const RunLockOptions& options = {});
    // The same without throwing for a live holder: nullopt, and *holder says who it is.
    static std::optional<RunLock> try_acquire(const std::filesystem::path& path,
                                              const RunLockOptions& options, std::string* holder);

    RunLock(RunLock&&) noexcept;
    RunLock& operator=(RunLock&&) noexcept;
    ~RunLock();  // release()

    // Refreshes the heartbeat now; false when the lock is no longer this process's (taken over
    // after a pause longer than stale_after): the caller must stop writing.
    bool heartbeat();
    bool still_held() const;
    // Removes the lock file if it is still this process's.
    void release();

    const std::string& takeover_note() const { return takeover_note_; }
    const LockHolder& holder() const { return me_; }
    const std::filesystem::path& path() const { return path_; }

private:
    RunLock(std::filesystem::path path, LockHolder me, std::string note,
            std::chrono::seconds heartbeat_interval);
    void stop_heartbeat();

    std::filesystem::path path_;
    LockHolder me_;
    std::string takeover_note_;
    bool held_ = false;
    struct Heartbeat;
    std::unique_ptr<Heartbeat> heartbeat_;
};

// The holder recorded in a lock file, or nullopt when there is none or it cannot be read.
std::optional<LockHolder> read_lock_file(const std::filesystem::path& path);
// Why the lock at `path`, held by `holder`, may be taken over ("pid 4242 no longer runs on
// node17"), or nullopt while its holder may be alive.
std::optional<std::string> stale_reason(const std::filesystem::path& path, const LockHolder& holder,
                                        std::chrono::seconds stale_after);

}  // namespace kelvin
