#include "engine/interruption.h"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>

#include "engine/device.h"

namespace kelvin {

namespace {

// A lock-free atomic is safe to touch from a signal handler.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

constexpr int kSignals[] = {SIGINT, SIGTERM, SIGUSR2};
struct sigaction g_previous[3];
std::atomic<bool> g_installed{false};

void on_signal(int signal) {
    int expected = 0;
    if (g_signal.compare_exchange_strong(expected, signal)) {
        const char text[] = "\nkelvin: stopping after the current step (Ctrl-C again to stop at once)\n";
        // write(2) is async-signal-safe; its result does not matter here.
        [[maybe_unused]] const ssize_t n = ::write(STDERR_FILENO, text, sizeof text - 1);
        return;
    }
    if (signal == SIGINT) {
        // A second Ctrl-C: the default action, now.
        ::signal(SIGINT, SIG_DFL);
        ::raise(SIGINT);
    }
}

}  // namespace

InterruptionHandlers::InterruptionHandlers() {
    KELVIN_CHECK(!g_installed.exchange(true), "InterruptionHandlers are already installed");
    struct sigaction action {};
    action.sa_handler = on_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;  // reads and writes in progress carry on
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &action, &g_previous[i]);
}

InterruptionHandlers::~InterruptionHandlers() {
    for (int i = 0; i < 3; ++i) ::sigaction(kSignals[i], &g_previous[i], nullptr);
    g_installed = false;
}

bool stop_requested() { return g_signal.load() != 0; }

int stop_signal() { return g_signal.load(); }

void clear_stop_request() { g_signal.store(0); }

const char* signal_name(int signal) {
    switch (signal) {
        case SIGINT: return "SIGINT";
        case SIGTERM: return "SIGTERM";
        case SIGUSR2: return "SIGUSR2";
        case SIGHUP: return "SIGHUP";
        default: return "another signal";
    }
}

int exit_code_for(int signal) { return 128 + signal; }

}  // namespace kelvin
