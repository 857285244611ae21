#include "experiments/report_sweep.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "experiments/report_format.h"
#include "experiments/run_files.h"
#include "experiments/svg_plot.h"

namespace kelvin::experiments::report {

using json = nlohmann::json;
using plot::escape_xml;

namespace {

// config.json is read here field by field, so that a hand-edited one that does not read through
// the settings tables still shows what it can (metrics.json and diagnostics.json come typed):
// the value at a path of object keys, or null when any step is missing.
const json* find(const json& j, std::initializer_list<const char*> path) {
    const json* p = &j;
    for (const char* key : path) {
        if (!p->is_object()) return nullptr;
        auto it = p->find(key);
        if (it == p->end()) return nullptr;
        p = &*it;
    }
    return p;
}

// A number at a path; NaN when missing, null (how nlohmann writes NaN) or not a number.
double number(const json& j, std::initializer_list<const char*> path) {
    const json* p = find(j, path);
    return p && p->is_number() ? p->get<double>() : kNaN;
}

std::string text(const json& j, std::initializer_list<const char*> path) {
    const json* p = find(j, path);
    if (!p || p->is_null()) return "";
    return p->is_string() ? p->get<std::string>() : p->dump();
}

}  // namespace

std::string group_title(const Run& r) {
    return or_dash(r.model) + " \u00b7 " + or_dash(r.dataset) + " \u00b7 init scale " +
           g(r.init_scale) + " \u00b7 head norm " + or_dash(r.head_norm);
}

void Notes::add(const std::string& run, const std::string& why) {
    auto& list = by_run_[run];
    if (std::find(list.begin(), list.end(), why) == list.end()) list.push_back(why);
    if (std::find(order_.begin(), order_.end(), run) == order_.end()) order_.push_back(run);
}

std::string Notes::html() const {
    if (order_.empty()) return "<p>Every run appears in every plot.</p>\n";
    std::string o = "<ul class=\"notes\">\n";
    for (const std::string& run : order_) {
        o += "<li><code>" + escape_xml(run) + "</code>: ";
        const auto& list = by_run_.at(run);
        for (size_t i = 0; i < list.size(); ++i) o += (i ? "; " : "") + escape_xml(list[i]);
        o += ".</li>\n";
    }
    return o + "</ul>\n";
}

Sweep read_sweep(std::vector<RunRecord> records, int partial) {
    Sweep sweep;
    sweep.partial = partial;
    std::set<std::string> ood;
    std::set<double> temperatures;
    for (RunRecord& record : records) {
        Run r;
        r.name = record.name;
        if (record.config_json.is_null()) {
            sweep.notes.add(r.name, "no config.json, so not shown at all");
            continue;
        }
        // Read field by field, so that a hand-edited config.json still shows what it can.
        r.config = std::move(record.config_json);
        r.model = text(r.config, {"model"});
        r.dataset = text(r.config, {"dataset"});
        r.temperature = number(r.config, {"temperature"});
        r.init_scale = number(r.config, {"model_options", "init_scale"});
        r.head_norm = text(r.config, {"model_options", "head_norm"});
        r.seed = text(r.config, {"seed"});
        r.has_metrics = record.has_metrics();
        if (r.has_metrics) {
            r.metrics = std::move(*record.metrics);
            r.status = r.metrics.status.empty() ? "unknown" : r.metrics.status;
        } else {
            r.status = "no metrics.json";
        }
        r.has_diagnostics = record.has_diagnostics();
        if (r.has_diagnostics) r.diagnostics = std::move(*record.diagnostics);
        if (!r.has_metrics) {
            sweep.notes.add(r.name, "no metrics.json, so left out of every plot");
        } else if (!r.complete()) {
            std::string why = "status " + r.status;
            if (r.metrics.diverged_at_step) why += " at step " + g(double(*r.metrics.diverged_at_step));
            const std::string loss = r.metrics.diverged_loss.value_or("");
            if (!loss.empty()) why += " (loss " + loss + ")";
            const std::string error = r.metrics.error.value_or("");
            if (!error.empty()) why += ": " + error;
            sweep.notes.add(r.name, why + ", so left out of every plot");
        } else if (!std::isfinite(r.temperature)) {
            sweep.notes.add(r.name,
                            "config.json has no numeric temperature, so left out of every plot");
        } else if (!record.stale_diagnostics.empty()) {
            sweep.notes.add(r.name, "diagnostics not shown: " + record.stale_diagnostics +
                                        "; rerun the sweep or kelvin diagnose to recompute them");
        } else if (!r.has_diagnostics) {
            sweep.notes.add(r.name, "no diagnostics.json, so only in the logits-norm plot");
        }
        if (r.has_diagnostics) {
            const Diagnostics& d = r.diagnostics;
            for (const auto* by_set : {&d.rho, &d.orthodev})
                for (auto& [set, v] : *by_set) ood.insert(set);
            for (auto& [detector, sets] : d.ood_detection)
                for (auto& [set, v] : sets) ood.insert(set);
            for (auto& [set, v] : d.probes.ood) ood.insert(set);
        }
        if (std::isfinite(r.temperature)) temperatures.insert(r.temperature);
        sweep.runs.push_back(std::move(r));
    }
    std::stable_sort(sweep.runs.begin(), sweep.runs.end(), [](const Run& a, const Run& b) {
        const std::string ga = group_title(a), gb = group_title(b);
        if (ga != gb) return ga < gb;
        if (a.temperature != b.temperature) return a.temperature < b.temperature;
        return a.seed < b.seed;
    });
    sweep.ood.assign(ood.begin(), ood.end());
    sweep.temperatures.assign(temperatures.begin(), temperatures.end());
    return sweep;
}

}  // namespace kelvin::experiments::report
