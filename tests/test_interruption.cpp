// engine/interruption: signals only set a flag; the loop stops at a step boundary and exits
// with 128 + the signal; a second Ctrl-C ends the process at once.
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <thread>

#include "engine/interruption.h"

using namespace kelvin;

namespace {

// Forks a child that installs the handlers, reports ready, then runs "steps" until a stop is
// requested (when `stop_at_boundary`) and exits with exit_code_for(stop_signal()). Returns the
// child's wait status after sending it `signals`.
int status_after_signals(std::initializer_list<int> signals, bool stop_at_boundary) {
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        InterruptionHandlers handlers;
        [[maybe_unused]] ssize_t n = ::write(ready[1], "r", 1);
        for (int step = 0; step < 2000; ++step) {  // at most ~20 s
            std::this_thread::sleep_for(std::chrono::milliseconds(10));  // one training step
            if (stop_at_boundary && stop_requested()) ::_exit(exit_code_for(stop_signal()));
        }
        ::_exit(0);
    }
    char c;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    for (int s : signals) {
        ::kill(pid, s);
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    ::close(ready[0]);
    ::close(ready[1]);
    return status;
}

}  // namespace

TEST_CASE("interruption: SIGINT, SIGTERM and SIGUSR2 stop at the next step with 128 + signal") {
    for (int s : {SIGINT, SIGTERM, SIGUSR2}) {
        CAPTURE(signal_name(s));
        const int status = status_after_signals({s}, true);
        REQUIRE(WIFEXITED(status));
        CHECK(WEXITSTATUS(status) == 128 + s);
    }
    CHECK(exit_code_for(SIGINT) == 130);
    CHECK(exit_code_for(SIGTERM) == 143);
}

TEST_CASE("interruption: a second Ctrl-C ends the process at once") {
    const int status = status_after_signals({SIGINT, SIGINT}, false);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == SIGINT);
}

TEST_CASE("interruption: the handlers record the signal and are removed again") {
    struct sigaction before {};
    ::sigaction(SIGTERM, nullptr, &before);
    {
        InterruptionHandlers handlers;
        CHECK(!stop_requested());
        ::raise(SIGTERM);
        CHECK(stop_requested());
        CHECK(stop_signal() == SIGTERM);
        ::raise(SIGUSR2);  // the first signal is the one reported
        CHECK(stop_signal() == SIGTERM);
        CHECK(std::string(signal_name(stop_signal())) == "SIGTERM");
        clear_stop_request();
        CHECK(!stop_requested());
    }
    struct sigaction after {};
    ::sigaction(SIGTERM, nullptr, &after);
    CHECK((after.sa_handler == before.sa_handler));
}
