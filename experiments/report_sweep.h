// The sweep as the report reads it: every finished run's records (experiments/run_record.h)
// with the settings its groups and axes need, sorted into groups of runs that share model, data
// set, init scale and head norm; and the notes of what the page leaves out, and why.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "experiments/run_diagnostics.h"
#include "experiments/run_metrics.h"
#include "experiments/report_format.h"
#include "experiments/run_files.h"
#include "experiments/run_record.h"

namespace kelvin::experiments::report {

// A finished run as the page shows it.
struct Run {
    std::string name;
    nlohmann::json config;
    Metrics metrics;          // empty unless has_metrics
    Diagnostics diagnostics;  // empty unless has_diagnostics
    bool has_metrics = false, has_diagnostics = false;
    std::string model, dataset, head_norm, status;
    double temperature = kNaN, init_scale = kNaN;
    std::string seed;

    bool complete() const { return status == kStatusComplete; }
    bool diagnosed() const { return complete() && has_diagnostics; }
};

// Why a run (or one of its values) is missing from a plot, in the order first noticed.
class Notes {
public:
    void add(const std::string& run, const std::string& why);
    std::string html() const;  // the page's "Left out" list

private:
    std::map<std::string, std::vector<std::string>> by_run_;
    std::vector<std::string> order_;
};

struct Sweep {
    std::vector<Run> runs;             // sorted by group, then T, then seed
    std::vector<std::string> ood;      // every OOD set named in any diagnostics
    std::vector<double> temperatures;  // sorted; a temperature's colour is its index here
    int partial = 0;
    Notes notes;
};

// The runs of `records` (load_runs) in page order, with their OOD sets and temperatures;
// `partial` is the count of unfinished runs the page mentions.
Sweep read_sweep(std::vector<RunRecord> records, int partial);

// "mlp \u00b7 fashion-mnist \u00b7 init scale 1 \u00b7 head norm none": a group's heading.
std::string group_title(const Run& r);

}  // namespace kelvin::experiments::report
