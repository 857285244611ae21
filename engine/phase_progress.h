// Progress of one phase of long work (data loading, an evaluation, feature extraction, a probe,
// a sweep's runs, the report), with the time spent and an estimate of what remains. On a
// terminal it redraws one line, at most ~10 times a second:
//   evaluation at initialisation [########............] 40/100 batches  0:12 elapsed, ~0:18 left
// and clears it when the phase ends; when the output is not a terminal (a log file, a Slurm
// job) it prints nothing while the phase runs and one plain line when it ends:
//   evaluation at initialisation: 100 batches in 0:30
// experiments/progress.h draws a per-epoch bar; this is the reusable part for every other phase
// (to be moved to app/ with the redesign; it depends on nothing but the C library).
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace kelvin {

// "0:07", "12:03", "1:02:03".
std::string format_duration(double seconds);
// The time left to do `total - done` units at the rate so far, or a negative number when
// nothing is done yet (no estimate).
double estimate_remaining(double elapsed_seconds, int64_t done, int64_t total);

class PhaseProgress {
public:
    enum class Style { automatic, bar, plain };
    // `unit` names what is counted ("batches", "runs"); total 0 when unknown (no bar, no
    // estimate). `out` defaults to stderr, whose being a terminal picks the style.
    PhaseProgress(std::string label, int64_t total, std::string unit, std::FILE* out = stderr,
                  Style style = Style::automatic);
    ~PhaseProgress();  // finish()
    PhaseProgress(const PhaseProgress&) = delete;
    PhaseProgress& operator=(const PhaseProgress&) = delete;

    void advance(int64_t done);
    void finish();  // idempotent

private:
    void draw(double elapsed);
    std::string label_, unit_;
    int64_t total_, done_ = 0;
    std::FILE* out_;
    bool bar_, finished_ = false, drawn_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace kelvin
