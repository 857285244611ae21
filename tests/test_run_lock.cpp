// engine/run_lock: one writer per folder, taken atomically, stale locks taken over only when
// their holder is certainly gone.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "engine/device.h"
#include "engine/run_lock.h"
#include "tests/cli_runner.h"

namespace fs = std::filesystem;
using namespace kelvin;

namespace {

RunLockOptions quiet_options() {
    RunLockOptions o;
    o.command = "kelvin test";
    o.heartbeat_interval = std::chrono::seconds(0);
    return o;
}

void write_lock(const fs::path& path, const std::string& host, int64_t pid, uint64_t pid_start = 0) {
    std::ofstream(path) << nlohmann::json{{"host", host}, {"pid", pid}, {"pid_start", pid_start},
                                          {"started_at", 1700000000}, {"command", "kelvin sweep x"},
                                          {"token", "feedbeef"}}
                               .dump();
}

void age_file(const fs::path& path, int seconds) {
    struct timespec times[2];
    times[0].tv_sec = times[1].tv_sec = std::time(nullptr) - seconds;
    times[0].tv_nsec = times[1].tv_nsec = 0;
    REQUIRE(::utimensat(AT_FDCWD, path.c_str(), times, 0) == 0);
}

std::string hostname() {
    char name[256] = {};
    ::gethostname(name, sizeof name - 1);
    return name;
}

}  // namespace

TEST_CASE("run lock: of processes racing for one lock, exactly one wins") {
    testing::TempDir tmp("run-lock-race");
    const fs::path lock = tmp.path / ".kelvin-lock";
    int barrier[2];
    REQUIRE(::pipe(barrier) == 0);
    constexpr int kRacers = 6;
    std::vector<pid_t> children;
    for (int i = 0; i < kRacers; ++i) {
        const pid_t pid = ::fork();
        REQUIRE(pid >= 0);
        if (pid == 0) {
            ::close(barrier[1]);
            char c;
            [[maybe_unused]] ssize_t n = ::read(barrier[0], &c, 1);  // returns once the parent closes it
            std::string holder;
            auto won = RunLock::try_acquire(lock, quiet_options(), &holder);
            if (won) std::this_thread::sleep_for(std::chrono::milliseconds(1500));  // held while the others try
            ::_exit(won ? 0 : 1);
        }
        children.push_back(pid);
    }
    ::close(barrier[0]);
    ::close(barrier[1]);  // start the race
    int winners = 0;
    for (pid_t pid : children) {
        int status = 0;
        REQUIRE(::waitpid(pid, &status, 0) == pid);
        REQUIRE(WIFEXITED(status));
        winners += WEXITSTATUS(status) == 0;
    }
    CHECK(winners == 1);
    // The winner's record is complete: the lock was published whole.
    const auto holder = read_lock_file(lock);
    REQUIRE(holder);
    CHECK(holder->host == hostname());
    CHECK(holder->command == "kelvin test");
}

TEST_CASE("run lock: a live holder is named; a dead or replaced one's lock is taken over with a note") {
    testing::TempDir tmp("run-lock-stale");
    const fs::path path = tmp.path / ".kelvin-lock";
    {
        RunLock mine = RunLock::acquire(path, quiet_options());
        CHECK(mine.takeover_note().empty());
        std::string holder;
        CHECK(!RunLock::try_acquire(path, quiet_options(), &holder));
        CHECK(holder.find("pid " + std::to_string(::getpid()) + " on " + hostname()) != std::string::npos);
        const std::string in_use = tmp.path.string() + " is in use";
        CHECK_THROWS_WITH_AS(RunLock::acquire(path, quiet_options()),
                             doctest::Contains(in_use.c_str()), Error);
    }
    CHECK(!fs::exists(path));  // released

    // A holder on this host that has exited.
    const pid_t dead = ::fork();
    if (dead == 0) ::_exit(0);
    ::waitpid(dead, nullptr, 0);
    write_lock(path, hostname(), dead);
    {
        RunLock lock = RunLock::acquire(path, quiet_options());
        CHECK(lock.takeover_note().find("no longer runs on " + hostname()) != std::string::npos);
        CHECK(lock.takeover_note().find("kelvin sweep x") != std::string::npos);
    }
    // A holder that has exited but is not reaped yet (a zombie: kill(pid, 0) still succeeds),
    // as a killed mpirun rank is for a moment.
    const pid_t zombie = ::fork();
    if (zombie == 0) ::_exit(0);
    for (int i = 0; i < 200; ++i) {  // until it has exited (state Z), at most 2 s
        std::ifstream stat("/proc/" + std::to_string(zombie) + "/stat");
        std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
        if (text.find(") Z") != std::string::npos) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    write_lock(path, hostname(), zombie);
    {
        RunLock lock = RunLock::acquire(path, quiet_options());
        CHECK(lock.takeover_note().find("no longer runs on " + hostname()) != std::string::npos);
    }
    ::waitpid(zombie, nullptr, 0);
    // A pid that runs again, as another process (a reused pid): its start time differs.
    write_lock(path, hostname(), ::getpid(), 1);
    RunLock lock = RunLock::acquire(path, quiet_options());
    CHECK(lock.takeover_note().find("is now another process") != std::string::npos);
}

TEST_CASE("run lock: another host's lock is respected until its heartbeat is older than stale_after") {
    testing::TempDir tmp("run-lock-host");
    const fs::path path = tmp.path / ".kelvin-lock";
    write_lock(path, "some-other-node", 4242);
    age_file(path, 300);
    std::string holder;
    CHECK(!RunLock::try_acquire(path, quiet_options(), &holder));
    CHECK(holder.find("pid 4242 on some-other-node") != std::string::npos);
    age_file(path, 700);  // the default stale_after is 600 s
    auto lock = RunLock::try_acquire(path, quiet_options(), &holder);
    REQUIRE(lock);
    CHECK(lock->takeover_note().find("last heartbeat is 70") != std::string::npos);

    // The heartbeat refreshes the modification time; a lock taken from under its holder is
    // reported as lost and is not deleted by it.
    age_file(path, 100);
    CHECK(lock->heartbeat());
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(std::time(nullptr) - st.st_mtime < 5);
    write_lock(path, "some-other-node", 4243);
    CHECK(!lock->heartbeat());
    CHECK(!lock->still_held());
    lock->release();
    CHECK(fs::exists(path));
}

TEST_CASE("run lock: the background heartbeat keeps the lock fresh") {
    testing::TempDir tmp("run-lock-heartbeat");
    const fs::path path = tmp.path / ".kelvin-lock";
    RunLockOptions o = quiet_options();
    o.heartbeat_interval = std::chrono::seconds(1);
    RunLock lock = RunLock::acquire(path, o);
    age_file(path, 500);
    std::this_thread::sleep_for(std::chrono::milliseconds(1600));
    struct stat st;
    REQUIRE(::stat(path.c_str(), &st) == 0);
    CHECK(std::time(nullptr) - st.st_mtime < 5);
}
