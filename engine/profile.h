// `--profile` on train and bench: collect the trace in memory (and in the --trace file, when
// one is given), then print the roofline table of the run's training steps (engine/roofline.h)
// and, with --profile-json FILE, write it there for scripts. The machine's limits are stated
// in the output and go into the trace's kernel events too.
#pragma once

#include <string>
#include <vector>

#include "engine/device.h"
#include "engine/roofline.h"
#include "engine/trace.h"

namespace kelvin::profile {

class Session {
public:
    // Finds the limits of `device` (probing the CPU on first use) and starts tracing unless
    // it is on already (--trace). The first `skip_steps` training steps are not profiled.
    // Without `print_table` the table only goes to the JSON file (ranks other than 0).
    Session(Device device, int skip_steps, std::string json_path, bool print_table = true);
    // The table of `events` (what trace::stop() returned): printed to stdout (when asked), written
    // to the JSON file when there is one.
    roofline::Table report(const std::vector<trace::Event>& events) const;

private:
    Device device_;
    int skip_steps_;
    std::string json_path_;
    bool print_table_;
    trace::Limits limits_;
};

}  // namespace kelvin::profile
