// `kelvin demo`, the README's main job: a small temperature sweep on Fashion-MNIST that shows
// the paper's effects on a 2-core machine in a few minutes, over five seeds, and tests the
// paper's claims on them, and a larger grid on a GPU.
#pragma once

#include <string>

#include "engine/device.h"
#include "experiments/sweep.h"

namespace kelvin::experiments {

// Seeds 1 to `seeds`; 5 by default, the fewest with which every claim the grid can test can be
// decided.
SweepConfig demo_config(Device device, int seeds = 5);
// The demo's closing text from a sweep folder's records: per cell (temperature) the means over
// seeds with the half-width of their 95% t interval, then the claims table.
std::string demo_tables(const std::string& out_dir);
// Runs (or resumes) the demo sweep into out_dir, prints demo_tables and the files' paths.
// Returns the process exit code.
int run_demo(const std::string& out_dir, Device device, int seeds = 5);

}  // namespace kelvin::experiments
