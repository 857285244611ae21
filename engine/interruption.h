// Stopping cleanly on Ctrl-C (SIGINT), SIGTERM (kill, a scheduler's end of job) and SIGUSR2
// (Slurm's --signal=USR2@SECONDS warning before a time limit): the handlers only record which
// signal came (async-signal-safe), and the training loop asks stop_requested() at each step
// boundary, finishes the step, checkpoints, records the run as "interrupted" and exits with
// exit_code_for(stop_signal()): 130 for SIGINT, 143 for SIGTERM, 140 for SIGUSR2, as a shell
// reports a process killed by that signal.
// A second SIGINT while a stop is pending ends the process at once (the default action), for a
// user who will not wait for the step to finish.
#pragma once

namespace kelvin {

// Installs the handlers for SIGINT, SIGTERM and SIGUSR2 while it lives and restores the
// previous ones after. One at a time per process; it does not nest.
class InterruptionHandlers {
public:
    InterruptionHandlers();
    ~InterruptionHandlers();
    InterruptionHandlers(const InterruptionHandlers&) = delete;
    InterruptionHandlers& operator=(const InterruptionHandlers&) = delete;
};

bool stop_requested();
// The first signal that asked to stop, or 0.
int stop_signal();
// Forgets a recorded request (a sweep that goes on after handling one; tests).
void clear_stop_request();

// "SIGINT", "SIGTERM", "SIGUSR2", "SIGHUP", or "another signal".
const char* signal_name(int signal);
// 128 + signal, what a shell reports for a process that a signal ended.
int exit_code_for(int signal);

}  // namespace kelvin
