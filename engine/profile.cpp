#include "engine/profile.h"

#include <cstdio>
#include <fstream>

#include "engine/machine_limits.h"

namespace kelvin::profile {

Session::Session(Device device, int skip_steps, std::string json_path, bool print_table)
    : device_(device),
      skip_steps_(skip_steps),
      json_path_(std::move(json_path)),
      print_table_(print_table) {
    if (!json_path_.empty())  // checked now: the table is written after the work it measures
        KELVIN_CHECK(std::ofstream(json_path_).good(),
                     "--profile-json: cannot write " + json_path_);
    limits_ = machine_limits(device);
    trace::set_limits(limits_);
    if (!trace::enabled()) trace::start("");
}

roofline::Table Session::report(const std::vector<trace::Event>& events) const {
    roofline::Table table = roofline::build(events, device_, skip_steps_, limits_);
    if (print_table_) std::fputs(roofline::format(table).c_str(), stdout);
    if (!json_path_.empty()) {
        std::ofstream out(json_path_);
        out << roofline::to_json(table).dump(2) << "\n";
        KELVIN_CHECK(out.good(), "--profile-json: cannot write " + json_path_);
        if (print_table_) std::printf("roofline table -> %s\n", json_path_.c_str());
    }
    return table;
}

}  // namespace kelvin::profile
