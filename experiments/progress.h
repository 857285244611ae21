// Progress on long work: a live bar on a terminal, nothing per step otherwise (logs stay
// readable), and one plain line per epoch either way.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace kelvin::experiments {

class ProgressBar {
public:
    ProgressBar(std::string label, int64_t total, bool enabled);
    // Redraws at most ~10 times a second; `status` is appended after the counts.
    void update(int64_t done, const std::string& status);
    void finish();  // clears the bar line
    static bool stderr_is_terminal();

private:
    std::string label_;
    int64_t total_;
    bool enabled_;
    std::chrono::steady_clock::time_point start_, last_draw_;
    bool drawn_ = false;
};

}  // namespace kelvin::experiments
