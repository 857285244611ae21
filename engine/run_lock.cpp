#include "engine/run_lock.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <utility>

#include "engine/device.h"

namespace kelvin {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string this_host() {
    char name[256] = {};
    if (::gethostname(name, sizeof name - 1) != 0) return "unknown-host";
    return name;
}

// Field 22 of /proc/PID/stat: when the process started, in clock ticks since boot; 0 if unknown.
uint64_t process_start_ticks(int64_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t end_of_name = text.rfind(')');  // the command name may hold spaces
    if (end_of_name == std::string::npos) return 0;
    std::istringstream fields(text.substr(end_of_name + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i)
        if (i == 22) return std::strtoull(field.c_str(), nullptr, 10);
    return 0;
}

// True when `pid` has exited but its parent has not reaped it yet (state Z in /proc/PID/stat):
// kill(pid, 0) still succeeds for such a process, but it holds nothing any more. A killed
// mpirun rank, say, stays a zombie for a moment, and its run must be resumable at once.
bool is_zombie(int64_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    const size_t end_of_name = text.rfind(')');
    return end_of_name != std::string::npos && end_of_name + 2 < text.size() &&
           text[end_of_name + 2] == 'Z';
}

std::string slurm_job_id() {
    const char* array_job = std::getenv("SLURM_ARRAY_JOB_ID");
    const char* task = std::getenv("SLURM_ARRAY_TASK_ID");
    if (array_job && task) return std::string(array_job) + "_" + task;
    const char* job = std::getenv("SLURM_JOB_ID");
    return job ? job : "";
}

std::string random_token() {
    std::random_device device;
    const uint64_t value = (uint64_t(device()) << 32) ^ device();
    char text[20];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
    return text;
}

std::string lock_text(const LockHolder& h) {
    return json{{"host", h.host},         {"pid", h.pid},
                {"pid_start", h.pid_start}, {"slurm_job_id", h.slurm_job_id},
                {"started_at", h.started_at}, {"command", h.command},
                {"token", h.token}}
               .dump(1) + "\n";
}

// Seconds since the lock file was last modified (its heartbeat), or nullopt when it is gone.
std::optional<int64_t> heartbeat_age(const fs::path& path) {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return std::nullopt;
    return static_cast<int64_t>(std::time(nullptr)) - static_cast<int64_t>(st.st_mtime);
}

void write_all(int fd, const std::string& text, const fs::path& path) {
    size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            const int err = errno;
            ::close(fd);
            throw Error("lock: cannot write " + path.string() + ": " + std::strerror(err));
        }
        done += static_cast<size_t>(n);
    }
}

// Creates `path` holding `text` unless it exists; true when this call created it. The text is
// written to a unique name first and published with link(2), atomic on NFS as well; link's
// reply can be lost on NFS, so success is read from the link count of the unique file.
bool publish(const fs::path& path, const std::string& text, const std::string& token) {
    const fs::path unique = path.string() + "." + this_host() + "." + std::to_string(::getpid()) +
                            "." + token + ".tmp";
    const int fd = ::open(unique.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0)
        throw Error("lock: cannot create " + unique.string() + ": " + std::strerror(errno) +
                    " (is the folder writable?)");
    write_all(fd, text, unique);
    ::fsync(fd);
    ::close(fd);
    const int rc = ::link(unique.c_str(), path.c_str());
    const int err = errno;
    struct stat st;
    const bool linked = rc == 0 || (::stat(unique.c_str(), &st) == 0 && st.st_nlink == 2);
    ::unlink(unique.c_str());
    if (linked || err == EEXIST) return linked;
    if (err != EPERM && err != ENOTSUP && err != EOPNOTSUPP && err != EXDEV)
        throw Error("lock: cannot create " + path.string() + ": " + std::strerror(err));
    // A file system without hard links: O_EXCL alone (atomic locally and on NFSv3+); a reader
    // may see the file before its text, and treats an unreadable young lock as held.
    const int direct = ::open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
    if (direct < 0) {
        if (errno == EEXIST) return false;
        throw Error("lock: cannot create " + path.string() + ": " + std::strerror(errno));
    }
    write_all(direct, text, path);
    ::fsync(direct);
    ::close(direct);
    return true;
}

std::string format_utc(int64_t seconds) {
    const std::time_t t = static_cast<std::time_t>(seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char text[40];
    std::strftime(text, sizeof text, "%Y-%m-%d %H:%M:%S UTC", &tm);
    return text;
}

}  // namespace

std::string LockHolder::describe() const {
    std::string text = "pid " + std::to_string(pid) + " on " + host;
    if (!slurm_job_id.empty()) text += " (Slurm job " + slurm_job_id + ")";
    if (started_at > 0) text += ", since " + format_utc(started_at);
    if (!command.empty()) text += ": " + command;
    return text;
}

std::optional<LockHolder> read_lock_file(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    const json j = json::parse(in, nullptr, false);
    if (j.is_discarded() || !j.is_object()) return std::nullopt;
    LockHolder h;
    try {
        h.host = j.at("host").get<std::string>();
        h.pid = j.at("pid").get<int64_t>();
        h.pid_start = j.value("pid_start", uint64_t(0));
        h.slurm_job_id = j.value("slurm_job_id", "");
        h.started_at = j.value("started_at", int64_t(0));
        h.command = j.value("command", "");
        h.token = j.value("token", "");
    } catch (const json::exception&) {
        return std::nullopt;  // not a lock kelvin wrote: judged by its age alone
    }
    return h;
}

std::optional<std::string> stale_reason(const fs::path& path, const LockHolder& holder,
                                        std::chrono::seconds stale_after) {
    if (holder.host == this_host() && holder.pid > 0) {
        if ((::kill(static_cast<pid_t>(holder.pid), 0) != 0 && errno == ESRCH) ||
            is_zombie(holder.pid))
            return "pid " + std::to_string(holder.pid) + " no longer runs on " + holder.host;
        const uint64_t start = process_start_ticks(holder.pid);
        if (holder.pid_start != 0 && start != 0 && start != holder.pid_start)
            return "pid " + std::to_string(holder.pid) + " on " + holder.host +
                   " is now another process (it started at another time)";
        return std::nullopt;  // alive here (or not ours to signal: EPERM)
    }
    const auto age = heartbeat_age(path);
    if (age && *age > stale_after.count())
        return "its last heartbeat is " + std::to_string(*age) + " s old, more than the " +
               std::to_string(stale_after.count()) + " s after which a lock of another host counts "
               "as abandoned";
    return std::nullopt;
}

namespace {

// Removes the stale lock at `path` (the one whose token is `stale_token`, or an unreadable one
// when that is empty) under PATH.takeover, so two processes cannot both take one stale lock.
// False when another process is taking it over now.
bool take_over(const fs::path& path, const std::string& stale_token, const LockHolder& me) {
    const fs::path guard = path.string() + ".takeover";
    if (!publish(guard, lock_text(me), me.token)) {
        // A takeover lasts milliseconds; a guard older than a minute belongs to a process that
        // died during one.
        const auto age = heartbeat_age(guard);
        if (age && *age > 60) ::unlink(guard.c_str());
        return false;
    }
    const auto current = read_lock_file(path);
    const bool same = current ? current->token == stale_token : stale_token.empty();
    if (same) ::unlink(path.c_str());
    ::unlink(guard.c_str());
    return same;
}

}  // namespace

struct RunLock::Heartbeat {
    fs::path path;
    std::string token;
    std::mutex mutex;
    std::condition_variable wake;
    bool stop = false;
    std::thread thread;
};

RunLock::RunLock(fs::path path, LockHolder me, std::string note, std::chrono::seconds interval)
    : path_(std::move(path)), me_(std::move(me)), takeover_note_(std::move(note)), held_(true) {
    if (interval.count() <= 0) return;
    heartbeat_ = std::make_unique<Heartbeat>();
    Heartbeat* h = heartbeat_.get();  // stable when the RunLock moves
    h->path = path_;
    h->token = me_.token;
    h->thread = std::thread([h, interval] {
        std::unique_lock<std::mutex> lock(h->mutex);
        while (!h->wake.wait_for(lock, interval, [h] { return h->stop; })) {
            const auto current = read_lock_file(h->path);
            if (!current || current->token != h->token) return;  // lost: nothing to refresh
            ::utimensat(AT_FDCWD, h->path.c_str(), nullptr, 0);
        }
    });
}

std::optional<RunLock> RunLock::try_acquire(const fs::path& path, const RunLockOptions& options,
                                            std::string* holder_text) {
    LockHolder me;
    me.host = this_host();
    me.pid = ::getpid();
    me.pid_start = process_start_ticks(me.pid);
    me.slurm_job_id = slurm_job_id();
    me.started_at = static_cast<int64_t>(std::time(nullptr));
    me.command = options.command;
    me.token = random_token();
    const std::string text = lock_text(me);
    std::string note;
    for (int attempt = 0; attempt < 4; ++attempt) {
        if (publish(path, text, me.token))
            return RunLock(path, me, note, options.heartbeat_interval);
        const auto holder = read_lock_file(path);
        const auto age = heartbeat_age(path);
        if (!age) continue;  // released meanwhile
        std::optional<std::string> reason;
        if (holder)
            reason = stale_reason(path, *holder, options.stale_after);
        else if (*age > options.stale_after.count())
            reason = "it cannot be read and is " + std::to_string(*age) + " s old";
        const std::string who = holder ? holder->describe() : "a process that left no readable record";
        if (!reason) {
            if (holder_text) *holder_text = who;
            return std::nullopt;
        }
        if (!take_over(path, holder ? holder->token : "", me)) {
            if (holder_text) *holder_text = who + " (another process is taking the lock over now)";
            return std::nullopt;
        }
        note = "took over the lock " + path.string() + " of " + who + ": " + *reason;
    }
    if (holder_text) *holder_text = "processes that keep taking it (gave up after 4 tries)";
    return std::nullopt;
}

RunLock RunLock::acquire(const fs::path& path, const RunLockOptions& options) {
    std::string holder;
    auto lock = try_acquire(path, options, &holder);
    if (!lock)
        throw Error(path.parent_path().string() + " is in use: " + path.string() + " is held by " + holder +
                    ". Two kelvin processes must not write one folder: wait for that one to finish, or "
                    "stop it. A lock of a process that died is taken over by the next run (on another "
                    "host after " + std::to_string(options.stale_after.count()) +
                    " s without a heartbeat)");
    return std::move(*lock);
}

RunLock::RunLock(RunLock&& other) noexcept
    : path_(std::move(other.path_)),
      me_(std::move(other.me_)),
      takeover_note_(std::move(other.takeover_note_)),
      held_(std::exchange(other.held_, false)),
      heartbeat_(std::move(other.heartbeat_)) {}

RunLock& RunLock::operator=(RunLock&& other) noexcept {
    if (this != &other) {
        release();
        path_ = std::move(other.path_);
        me_ = std::move(other.me_);
        takeover_note_ = std::move(other.takeover_note_);
        held_ = std::exchange(other.held_, false);
        heartbeat_ = std::move(other.heartbeat_);
    }
    return *this;
}

RunLock::~RunLock() { release(); }

bool RunLock::still_held() const {
    if (!held_) return false;
    const auto current = read_lock_file(path_);
    return current && current->token == me_.token;
}

bool RunLock::heartbeat() {
    if (!still_held()) return false;
    return ::utimensat(AT_FDCWD, path_.c_str(), nullptr, 0) == 0;
}

void RunLock::stop_heartbeat() {
    if (!heartbeat_) return;
    {
        std::lock_guard<std::mutex> lock(heartbeat_->mutex);
        heartbeat_->stop = true;
    }
    heartbeat_->wake.notify_all();
    if (heartbeat_->thread.joinable()) heartbeat_->thread.join();
    heartbeat_.reset();
}

void RunLock::release() {
    stop_heartbeat();
    if (held_ && still_held()) ::unlink(path_.c_str());
    held_ = false;
}

}  // namespace kelvin
