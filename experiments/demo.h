// `kelvin demo`, the README's main job: a small temperature sweep on Fashion-MNIST that shows
// the paper's effects on a 2-core machine in a few minutes, and a larger grid on a GPU.
#pragma once

#include <string>

#include "engine/device.h"
#include "experiments/sweep.h"

namespace kelvin::experiments {

SweepConfig demo_config(Device device);
// Runs (or resumes) the demo sweep into out_dir, prints a short table and the report's path.
// Returns the process exit code.
int run_demo(const std::string& out_dir, Device device);

}  // namespace kelvin::experiments
