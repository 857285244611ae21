#include "analysis/run_results.h"

#include <cmath>

namespace kelvin::analysis {
std::optional<double> result_value(const RunResults& run, const std::string& name) {
    if (auto it = run.results.find(name); it != run.results.end())
        return std::isfinite(it->second) ? std::optional<double>(it->second) : std::nullopt;
    const std::string prefix = name + "/";
    double sum = 0;
    int count = 0;
    for (auto it = run.results.lower_bound(prefix);
         it != run.results.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
        if (!std::isfinite(it->second)) return std::nullopt;  // a set without a value: no mean
        sum += it->second;
        ++count;
    }
    if (count == 0) return std::nullopt;
    return sum / count;
}

}  // namespace kelvin::analysis
