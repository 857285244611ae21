// One run of a sweep as the statistics see it: its settings and a flat map of its numeric
// results by name. Plain data, independent of how run folders are read, so that the
// aggregation over seeds (analysis/cell_summary.h) and the claims (analysis/claims.h) can be
// fed from any record type.
//
// Result names: experiments/record_results.h builds them from a run's records and lists them.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace kelvin::analysis {

struct RunResults {
    std::string id;  // the run's folder name; the claims list the runs they used by it
    double temperature = 1;
    double init_scale = 1;
    std::string head_norm = "none";
    uint64_t seed = 0;
    std::map<std::string, std::string> other;  // every other grid setting (model, dataset, ...)
    std::map<std::string, double> results;
};

// A result by name: the value itself when `name` is a key; otherwise the mean over the keys
// "name/..." (so "rho" is the mean of rho over the OOD sets, "neco_auroc" NECO's mean AUROC);
// nothing when neither exists or the value is not finite. So every key under "name/" must be the
// same quantity for another OOD set: name an interval "neco_auroc_low/<set>", not
// "neco_auroc/<set>/low".
std::optional<double> result_value(const RunResults& run, const std::string& name);

}  // namespace kelvin::analysis
