// The kelvin binary started in the background, for the tests that signal, kill or race a run
// while it works (tests/cli_runner.h runs it to the end instead).
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>

namespace kelvin::testing {

// Starts kelvin with `args`, its stdout and stderr into the file `log`; returns its pid.
inline pid_t spawn_kelvin(const std::string& args, const std::string& log) {
    pid_t pid = fork();
    if (pid == 0) {
        const std::string command = "exec " + std::string(KELVIN_BINARY) + " " + args + " > " + log + " 2>&1";
        execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
        _exit(127);
    }
    return pid;
}

// Waits for the process; its exit code, or 128 + the signal that ended it.
inline int exit_status(pid_t pid) {
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// Polls until `done()` or the timeout; returns whether it became true.
template <typename F>
bool wait_for(F done, double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (std::chrono::steady_clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return done();
}

}  // namespace kelvin::testing
