// The sweep report: reads every finished run, builds the summary table and the plots with
// experiments/svg_plot, and writes one HTML page with no external resources.
#include "experiments/report.h"

#include "engine/json_errors.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "engine/atomic_file.h"
#include "engine/device.h"
#include "experiments/run_files.h"
#include "experiments/run_record.h"
#include "experiments/svg_plot.h"

namespace kelvin::experiments {

namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using plot::escape_xml;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr const char* kLogitsNormLabel = "mean per-sample logits norm \u2016z\u2016\u2082";

// ---- reading ------------------------------------------------------------------------------------

// The value at a path of object keys, or null when any step is missing.
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

struct Run {
    std::string name;
    json config, metrics, diagnostics;
    bool has_metrics = false, has_diagnostics = false;
    std::string model, dataset, head_norm, status;
    double temperature = kNaN, init_scale = kNaN;
    std::string seed;

    bool complete() const { return status == "complete"; }
    bool diagnosed() const { return complete() && has_diagnostics; }
};

// ---- formatting ---------------------------------------------------------------------------------

std::string format(const char* pattern, double v) {
    if (!std::isfinite(v)) return "\u2014";
    char buf[64];
    std::snprintf(buf, sizeof buf, pattern, v);
    return buf;
}
std::string g(double v) { return format("%g", v); }
std::string sig3(double v) { return format("%.3g", v); }
std::string fixed3(double v) { return format("%.3f", v); }

std::string cell(const std::string& value, const std::string& cls = "") {
    const std::string c = cls + (value == "\u2014" ? (cls.empty() ? "na" : " na") : "");
    return c.empty() ? "<td>" + escape_xml(value) + "</td>"
                     : "<td class=\"" + c + "\">" + escape_xml(value) + "</td>";
}

std::string or_dash(const std::string& s) { return s.empty() ? std::string("\u2014") : s; }

std::string group_title(const Run& r) {
    return or_dash(r.model) + " \u00b7 " + or_dash(r.dataset) + " \u00b7 init scale " +
           g(r.init_scale) + " \u00b7 head norm " + or_dash(r.head_norm);
}

double mean(const std::vector<double>& v) {
    double sum = 0;
    size_t n = 0;
    for (double x : v)
        if (std::isfinite(x)) sum += x, ++n;
    return n ? sum / n : kNaN;
}

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

// Why a run (or one of its values) is missing from a plot, in the order first noticed.
class Notes {
public:
    void add(const std::string& run, const std::string& why) {
        auto& list = by_run_[run];
        if (std::find(list.begin(), list.end(), why) == list.end()) list.push_back(why);
        if (std::find(order_.begin(), order_.end(), run) == order_.end()) order_.push_back(run);
    }
    std::string html() const {
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

private:
    std::map<std::string, std::vector<std::string>> by_run_;
    std::vector<std::string> order_;
};

// ---- the sweep ----------------------------------------------------------------------------------

struct Sweep {
    std::vector<Run> runs;             // sorted by group, then T, then seed
    std::vector<std::string> ood;      // every OOD set named in any diagnostics
    std::vector<double> temperatures;  // sorted; a temperature's colour is its index here
    int partial = 0;
    Notes notes;
};

Sweep read_sweep(const fs::path& dir) {
    Sweep sweep;
    std::set<std::string> ood;
    std::set<double> temperatures;
    for (RunRecord& record : load_runs(dir, "report", &sweep.partial)) {
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
            r.metrics = std::move(record.metrics);
            r.status = text(r.metrics, {"status"});
            if (r.status.empty()) r.status = "unknown";
        } else {
            r.status = "no metrics.json";
        }
        r.has_diagnostics = record.has_diagnostics();
        if (r.has_diagnostics) r.diagnostics = std::move(record.diagnostics);
        if (!r.has_metrics) {
            sweep.notes.add(r.name, "no metrics.json, so left out of every plot");
        } else if (!r.complete()) {
            std::string why = "status " + r.status;
            const double step = number(r.metrics, {"diverged_at_step"});
            if (std::isfinite(step)) why += " at step " + g(step);
            const std::string loss = text(r.metrics, {"diverged_loss"});
            if (!loss.empty()) why += " (loss " + loss + ")";
            const std::string error = text(r.metrics, {"error"});
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
            for (const char* key : {"rho", "orthodev"})
                if (const json* p = find(r.diagnostics, {key}); p && p->is_object())
                    for (auto& [set, v] : p->items()) ood.insert(set);
            if (const json* p = find(r.diagnostics, {"ood_detection"}); p && p->is_object())
                for (auto& [method, sets] : p->items())
                    if (sets.is_object())
                        for (auto& [set, v] : sets.items()) ood.insert(set);
            if (const json* p = find(r.diagnostics, {"probes", "ood"}); p && p->is_object())
                for (auto& [set, v] : p->items()) ood.insert(set);
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

// ---- the summary table --------------------------------------------------------------------------

std::string final_test_accuracy(const Run& r) {
    return fixed3(r.complete() ? number(r.metrics, {"final", "test_acc"}) : kNaN);
}
std::string logits_rank(const Run& r) { return g(number(r.diagnostics, {"rank", "logits"})); }
std::string softmax_rank(const Run& r) { return g(number(r.diagnostics, {"rank", "softmax"})); }
std::string logits_norm_growth(const Run& r) {
    const double last = r.complete() ? number(r.metrics, {"final", "logits_norm"}) : kNaN;
    return sig3(number(r.metrics, {"init", "logits_norm"})) + " \u2192 " + sig3(last);
}
std::string kappa(const Run& r) { return fixed3(number(r.diagnostics, {"kappa"})); }
// The weights the row's numbers were computed from (experiments/run_checkpoint.h).
std::string weights_of_results(const Run& r) {
    const std::string digest = text(r.metrics, {"final", "weights_digest"});
    if (!r.complete() || digest.empty()) return "\u2014";
    return g(number(r.metrics, {"final", "step"})) + ", " + digest.substr(digest.find(':') + 1, 8);
}

struct Column {
    std::string header;
    std::function<std::string(const Run&)> value;
    std::string cls;  // "num": right-aligned
};

std::string summary_table(const Sweep& sweep) {
    // Columns every run shares the value of are stated once above the table instead.
    std::vector<Column> columns, shared;
    for (Column c : {Column{"model", [](const Run& r) { return or_dash(r.model); }, ""},
                     Column{"dataset", [](const Run& r) { return or_dash(r.dataset); }, ""},
                     Column{"T", [](const Run& r) { return g(r.temperature); }, "num"},
                     Column{"init scale", [](const Run& r) { return g(r.init_scale); }, "num"},
                     Column{"head norm", [](const Run& r) { return or_dash(r.head_norm); }, ""}}) {
        bool same = sweep.runs.size() > 1 && c.header != "T";
        for (const Run& r : sweep.runs) same = same && c.value(r) == c.value(sweep.runs[0]);
        (same ? shared : columns).push_back(c);
    }
    columns.push_back({"seed", [](const Run& r) { return or_dash(r.seed); }, "num"});
    columns.push_back({"test acc", final_test_accuracy, "num"});
    columns.push_back({"rank (logits)", logits_rank, "num"});
    columns.push_back({"rank (softmax)", softmax_rank, "num"});
    columns.push_back({"logits norm init \u2192 final", logits_norm_growth, "num"});
    columns.push_back({"\u03ba", kappa, "num"});
    columns.push_back({"weights (step, digest)", weights_of_results, ""});

    std::string o;
    if (!shared.empty()) {
        o += "<p class=\"shared\">Every run: ";
        for (size_t i = 0; i < shared.size(); ++i)
            o += (i ? ", " : "") + escape_xml(shared[i].header) + " <b>" +
                 escape_xml(shared[i].value(sweep.runs[0])) + "</b>";
        o += ".</p>\n";
    }
    const bool ood = !sweep.ood.empty();
    const std::string span = ood ? " rowspan=\"2\"" : "";
    o += "<div class=\"table-wrap\"><table class=\"summary\">\n<thead><tr>";
    for (const Column& c : columns) {
        o += "<th" + span + (c.cls.empty() ? "" : " class=\"" + c.cls + "\"") + ">" +
             escape_xml(c.header) + "</th>";
        if (c.header == "seed") o += "<th" + span + ">status</th>";
    }
    for (const std::string& set : sweep.ood)
        o += "<th colspan=\"6\" class=\"ood-set\">OOD: " + escape_xml(set) + "</th>";
    o += "</tr>\n";
    if (ood) {
        o += "<tr>";
        for (size_t i = 0; i < sweep.ood.size(); ++i) {
            o += "<th class=\"num ood-first\">\u03c1</th>";
            for (const OodDetector& m : kOodDetectors)
                o += "<th class=\"num\">" + std::string(m.label) + " AUROC</th>";
            o += "<th class=\"num\">OrthoDev</th>";
        }
        o += "</tr>\n";
    }
    o += "</thead>\n<tbody>\n";
    for (const Run& r : sweep.runs) {
        o += "<tr class=\"run" + std::string(r.complete() ? "" : " failed") + "\" title=\"" +
             escape_xml(r.name) + "\">";
        for (const Column& c : columns) {
            o += cell(c.value(r), c.cls);
            if (c.header != "seed") continue;
            std::string status = r.status;
            const double step = number(r.metrics, {"diverged_at_step"});
            if (std::isfinite(step)) status += " (step " + g(step) + ")";
            o += cell(status, r.complete() ? "ok" : "bad");
        }
        for (const std::string& set : sweep.ood) {
            const char* s = set.c_str();
            const json& d = r.diagnostics;
            o += cell(fixed3(number(d, {"rho", s})), "num ood-first");
            for (const OodDetector& m : kOodDetectors)
                o += cell(fixed3(number(d, {"ood_detection", m.key, s, "auroc"})), "num");
            o += cell(fixed3(number(d, {"orthodev", s})), "num");
        }
        o += "</tr>\n";
    }
    return o + "</tbody></table></div>\n";
}

// ---- the plots of one group ---------------------------------------------------------------------

// A figure as data: what to plot (series, axes, scales, reference lines) and its caption. The
// page inlines plot::render_svg(spec); write_report also saves each as its own SVG and CSV.
struct Figure {
    plot::PlotSpec spec;
    std::string caption;
};

std::string legend_for(double t, size_t seeds) {
    return "T = " + g(t) + (seeds > 1 ? " (" + std::to_string(seeds) + " seeds)" : "");
}

class GroupPlots {
public:
    GroupPlots(const Sweep& sweep, std::vector<const Run*> runs, Notes& notes)
        : sweep_(sweep), runs_(std::move(runs)), notes_(notes) {
        for (const Run* r : runs_)
            if (std::find(ts_.begin(), ts_.end(), r->temperature) == ts_.end() &&
                std::isfinite(r->temperature))
                ts_.push_back(r->temperature);
        std::sort(ts_.begin(), ts_.end());
    }

    std::vector<Figure> figures() {
        // Without OOD sets, the per-set plots are drawn once, empty, saying so.
        const std::vector<std::string> sets =
            sweep_.ood.empty() ? std::vector<std::string>{""} : sweep_.ood;
        std::vector<Figure> out = {ranks(), logits_norm()};
        if (has_track()) {
            out.push_back(track_loss());
            out.push_back(track_norm());
            out.push_back(track_rank());
        }
        out.push_back(spectra());
        for (const std::string& set : sets) out.push_back(tunnel(set));
        out.push_back(kappa_rho());
        for (const std::string& set : sets) out.push_back(detection(set));
        return out;
    }

private:
    int color_of(double t) const {
        auto it = std::find(sweep_.temperatures.begin(), sweep_.temperatures.end(), t);
        return static_cast<int>(it - sweep_.temperatures.begin());
    }
    std::vector<const Run*> at(double t, bool need_diagnostics) const {
        std::vector<const Run*> out;
        for (const Run* r : runs_)
            if (r->temperature == t && (need_diagnostics ? r->diagnosed() : r->complete()))
                out.push_back(r);
        return out;
    }
    // Mean over the runs at temperature t of a diagnostics number; non-finite values are noted.
    double mean_of(double t, std::initializer_list<const char*> path, const std::string& what,
                   const std::string& plot) {
        std::vector<double> values;
        for (const Run* r : at(t, true)) {
            const double v = number(r->diagnostics, path);
            if (std::isfinite(v))
                values.push_back(v);
            else
                notes_.add(r->name,
                           what + " missing or not finite, so left out of the " + plot + " plot");
        }
        return mean(values);
    }

    // ---- step-by-step dynamics, from metrics.json's "track" (train --track-every) ----------
    static const json* track_of(const Run& r) {
        const json* track = find(r.metrics, {"track"});
        return track && track->is_array() && track->size() >= 2 ? track : nullptr;
    }
    bool has_track() const {
        for (const Run* r : runs_)
            if (r->complete() && track_of(*r)) return true;
        return false;
    }
    double classes() const {
        double classes = kNaN;
        for (const Run* r : runs_)
            if (r->diagnosed())
                classes = std::max(std::isfinite(classes) ? classes : 0.0,
                                   number(r->diagnostics, {"rank", "classes"}));
        return classes;
    }
    // One line per T of a track value against the step, averaged over seeds step by step.
    std::vector<plot::Series> track_series(const char* key) const {
        std::vector<plot::Series> out;
        for (double t : ts_) {
            std::vector<const Run*> runs;
            std::map<double, std::vector<double>> by_step;
            for (const Run* r : at(t, false)) {
                const json* track = track_of(*r);
                if (!track) continue;
                runs.push_back(r);
                for (const json& record : *track)
                    by_step[number(record, {"step"})].push_back(number(record, {key}));
            }
            plot::Series s{legend_for(t, runs.size())};
            s.color = color_of(t);
            for (auto& [step, values] : by_step)
                if (std::isfinite(step)) s.x.push_back(step), s.y.push_back(mean(values));
            out.push_back(s);
        }
        return out;
    }

    Figure track_loss() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: loss";
        spec.x_label = "training step";
        spec.y_label = "cross-entropy at T on the monitoring batch";
        spec.x_min = 0;
        spec.y_min = 0;
        spec.series = track_series("loss");
        const double c = classes();
        if (std::isfinite(c) && c > 1)
            spec.hlines.push_back({std::log(c), "ln C = " + sig3(std::log(c)) + " (uniform)"});
        return {spec,
                "Loss at the training temperature on a fixed batch of test samples, every "
                "--track-every steps. At high T the loss sits at ln C, the value of a uniform "
                "prediction, until the logits norm has grown enough for softmax(z/T) to move "
                "away from uniform; then it falls at once."};
    }

    Figure track_norm() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: logits norm";
        spec.x_label = "training step";
        spec.y_label = kLogitsNormLabel;
        spec.log_y = true;
        spec.x_min = 0;
        spec.series = track_series("logits_norm");
        return {spec,
                "The logits norm on the same monitoring batch, step by step: the growth that "
                "high T forces on the network, and when it happens."};
    }

    Figure track_rank() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: rank of the logits";
        spec.x_label = "training step";
        spec.y_label = "numerical rank (\u03b3 = 1e-3)";
        spec.x_min = 0;
        spec.y_min = 0;
        spec.y_integer = true;
        spec.series = track_series("rank");
        const double c = classes();
        if (std::isfinite(c) && c > 1)
            spec.hlines.push_back({c - 1, "C \u2212 1 = " + g(c - 1)});
        return {spec,
                "Numerical rank of the monitoring batch's logits (singular values above "
                "10\u207b\u00b3 \u03c3\u2081) during training."};
    }

    Figure ranks() {
        plot::PlotSpec spec;
        spec.title = "Numerical rank of the logits z and of softmax(z/T)";
        spec.x_label = "training temperature T";
        double gamma = kNaN;
        for (const Run* r : runs_)
            if (r->diagnosed() && !std::isfinite(gamma))
                gamma = number(r->diagnostics, {"settings", "gamma"});
        const double classes = this->classes();
        spec.y_label = "numerical rank" +
                       (std::isfinite(gamma) ? " (\u03b3 = " + g(gamma) + ")" : std::string());
        spec.log_x = true;
        spec.y_min = 0;
        spec.y_integer = true;
        plot::Series logits{"rank(logits)"}, softmax{"rank(softmax(z/T))"};
        logits.markers = softmax.markers = true;
        softmax.dashed = true;
        for (double t : ts_) {
            logits.x.push_back(t), softmax.x.push_back(t);
            logits.y.push_back(mean_of(t, {"rank", "logits"}, "rank(logits)", "rank"));
            softmax.y.push_back(mean_of(t, {"rank", "softmax"}, "rank(softmax)", "rank"));
        }
        spec.series = {logits, softmax};
        if (std::isfinite(classes) && classes > 1) {
            spec.hlines.push_back(
                {classes - 1, "C \u2212 1 = " + g(classes - 1) + " (Neural Collapse)"});
            spec.y_max = classes;
        }
        return {
            spec,
            "Rank = number of singular values above \u03b3\u00b7\u03c3\u2081 of the N\u00d7C "
            "test logits (solid) and of the softmax probabilities at the training temperature "
            "(dashed). Neural Collapse predicts C\u22121; a rank well below it after training at "
            "high T is the paper\u2019s rank-deficit bias."};
    }

    Figure logits_norm() {
        plot::PlotSpec spec;
        spec.title = "Logits norm during training";
        spec.x_label = "epoch (0 = initialisation)";
        spec.y_label = kLogitsNormLabel;
        spec.log_y = true;
        spec.x_integer = true;
        const char* kNotPlotted = "missing or not finite, so left out of the logits-norm plot";
        for (double t : ts_) {
            const std::vector<const Run*> runs = at(t, false);
            std::map<double, std::vector<double>> by_epoch;
            for (const Run* r : runs) {
                const double init = number(r->metrics, {"init", "logits_norm"});
                if (std::isfinite(init))
                    by_epoch[0].push_back(init);
                else
                    notes_.add(r->name,
                               std::string("logits norm at initialisation ") + kNotPlotted);
                if (const json* epochs = find(r->metrics, {"epochs"});
                    epochs && epochs->is_array()) {
                    for (size_t i = 0; i < epochs->size(); ++i) {
                        const json& e = (*epochs)[i];
                        double epoch = number(e, {"epoch"});
                        if (!std::isfinite(epoch)) epoch = static_cast<double>(i + 1);
                        const double v = number(e, {"logits_norm"});
                        if (std::isfinite(v)) {
                            by_epoch[epoch].push_back(v);
                            continue;
                        }
                        notes_.add(r->name, "logits norm of epoch " + g(epoch) + " " + kNotPlotted);
                    }
                }
            }
            plot::Series s{legend_for(t, runs.size())};
            s.color = color_of(t);
            for (auto& [epoch, values] : by_epoch)
                s.x.push_back(epoch), s.y.push_back(mean(values));
            s.markers = s.x.size() <= 15;
            spec.series.push_back(s);
        }
        return {
            spec,
            "Mean over test samples of \u2016z\u2016\u2082, the L2 norm of the logits vector, "
            "after each epoch. To lower the loss at high T the network must grow this norm, which "
            "is the paper\u2019s mechanism for the rank collapse."};
    }

    Figure spectra() {
        plot::PlotSpec spec;
        spec.title = "Singular-value spectrum of the logits";
        spec.x_label = "index i";
        spec.y_label = "\u03c3\u1d62 / \u03c3\u2081";
        spec.log_y = true;
        spec.x_integer = true;
        for (double gamma : {1e-2, 1e-3, 1e-4})
            spec.hlines.push_back({gamma, "\u03b3 = " + g(gamma)});
        for (double t : ts_) {
            const std::vector<const Run*> runs = at(t, true);
            std::vector<std::vector<double>> normalised;
            for (const Run* r : runs) {
                const json* sv = find(r->diagnostics, {"singular_values", "logits"});
                if (!sv || !sv->is_array() || sv->empty() || !(*sv)[0].is_number() ||
                    !((*sv)[0].get<double>() > 0)) {
                    notes_.add(r->name, "no logits spectrum: left out of the spectrum plot");
                    continue;
                }
                const double top = (*sv)[0].get<double>();
                std::vector<double> v;
                for (const json& x : *sv) v.push_back(x.is_number() ? x.get<double>() / top : kNaN);
                normalised.push_back(v);
            }
            plot::Series s{legend_for(t, normalised.size())};
            s.color = color_of(t);
            size_t length = normalised.empty() ? 0 : normalised[0].size();
            for (const auto& v : normalised) length = std::min(length, v.size());
            for (size_t i = 0; i < length; ++i) {
                std::vector<double> column;
                for (const auto& v : normalised) column.push_back(v[i]);
                s.x.push_back(static_cast<double>(i + 1));
                s.y.push_back(mean(column));
            }
            s.markers = length <= 20;
            spec.series.push_back(s);
        }
        return {
            spec,
            "Singular values of the test logits divided by the largest (mean over seeds). The "
            "dashed lines are the rank thresholds \u03b3 = 10\u207b\u00b2, 10\u207b\u00b3 (the "
            "default) and 10\u207b\u2074: the rank is the number of points above the line. Exact "
            "zeros cannot be drawn on a log axis and are left out."};
    }

    Figure tunnel(const std::string& set) {
        plot::PlotSpec spec;
        spec.title = set.empty() ? "Linear-probe accuracy per layer"
                                 : "Probe accuracy per layer, ID vs " + set;
        spec.x_label = "probed layer (input \u2192 output)";
        spec.y_label = "probe test accuracy";
        spec.y_min = 0;
        spec.y_max = 1;
        for (const Run* r : runs_) {  // the longest list of layer names in the group
            const json* layers =
                r->diagnosed() ? find(r->diagnostics, {"probes", "layers"}) : nullptr;
            if (!layers || !layers->is_array() || layers->size() <= spec.x_category_labels.size())
                continue;
            spec.x_category_labels.clear();
            for (const json& l : *layers)
                spec.x_category_labels.push_back(l.is_string() ? l.get<std::string>() : l.dump());
        }
        std::vector<plot::Series> dashed;
        for (double t : ts_) {
            const std::vector<const Run*> runs = at(t, true);
            auto curve = [&](std::initializer_list<const char*> path, const std::string& what) {
                std::vector<std::vector<double>> per_layer(spec.x_category_labels.size());
                for (const Run* r : runs) {
                    const json* acc = find(r->diagnostics, path);
                    if (!acc || !acc->is_array()) {
                        notes_.add(r->name,
                                   "no " + what + " probe accuracies: left out of the probe plot");
                        continue;
                    }
                    for (size_t l = 0; l < acc->size() && l < per_layer.size(); ++l)
                        per_layer[l].push_back((*acc)[l].is_number() ? (*acc)[l].get<double>()
                                                                     : kNaN);
                }
                plot::Series s;
                for (size_t l = 0; l < per_layer.size(); ++l) {
                    s.x.push_back(static_cast<double>(l));
                    s.y.push_back(mean(per_layer[l]));
                }
                s.markers = true;
                s.color = color_of(t);
                return s;
            };
            plot::Series id = curve({"probes", "id"}, "in-distribution");
            id.label = legend_for(t, runs.size());
            spec.series.push_back(id);
            if (!set.empty()) {
                plot::Series ood = curve({"probes", "ood", set.c_str()}, set);
                ood.dashed = true;
                dashed.push_back(ood);
            }
        }
        spec.series.insert(spec.series.end(), dashed.begin(), dashed.end());
        if (!set.empty()) {  // a style key: legend entries without data
            plot::Series solid{"in-distribution"}, ood{"OOD: " + set};
            solid.color = ood.color = 6;  // black
            ood.dashed = true;
            spec.series.push_back(solid);
            spec.series.push_back(ood);
        }
        return {spec,
                "Test accuracy of a linear probe trained on the frozen features after each layer "
                "(mean over seeds). Solid: in-distribution" +
                    (set.empty() ? std::string(". No OOD set was evaluated.")
                                 : "; dashed: probes trained and tested on " + set +
                                       ". A plateau in the late layers is the tunnel; an OOD curve "
                                       "that falls off towards the output gives a high \u03c1.")};
    }

    Figure kappa_rho() {
        plot::PlotSpec spec;
        spec.title = "Effective depth \u03ba vs OOD generalisation drop \u03c1";
        spec.x_label = "\u03ba = l*/L (effective depth)";
        spec.y_label = "\u03c1 (OOD generalisation drop)";
        spec.x_min = 0, spec.x_max = 1, spec.y_min = 0;
        for (size_t k = 0; k < sweep_.ood.size(); ++k) {
            const std::string& set = sweep_.ood[k];
            plot::Series s{"OOD: " + set};
            s.lines = false;
            s.color = static_cast<int>(k);
            for (double t : ts_) {
                s.x.push_back(mean_of(t, {"kappa"}, "\u03ba", "\u03ba\u2013\u03c1"));
                s.y.push_back(
                    mean_of(t, {"rho", set.c_str()}, "\u03c1 on " + set, "\u03ba\u2013\u03c1"));
                s.point_labels.push_back("T=" + g(t));
            }
            spec.series.push_back(s);
        }
        return {
            spec,
            "\u03ba = l*/L, l* the first layer whose in-distribution probe reaches 95% of the last "
            "layer\u2019s accuracy; \u03c1 = (max\u2097 a\u2097 \u2212 a_L) / max\u2097 a\u2097 "
            "on the OOD probes. The paper: high T gives low \u03ba (a long tunnel) and high "
            "\u03c1." +
                std::string(sweep_.ood.empty()
                                ? " No OOD set was evaluated, so \u03c1 is not available."
                                : "")};
    }

    Figure detection(const std::string& set) {
        plot::PlotSpec spec;
        spec.title = set.empty() ? "OOD detection AUROC" : "OOD detection AUROC, " + set;
        spec.x_label = "training temperature T";
        spec.y_label = "AUROC (in-distribution positive)";
        spec.log_x = true;
        spec.y_max = 1;
        spec.y_min = 0.5;
        spec.hlines.push_back({0.5, "chance"});
        if (!set.empty())
            for (const OodDetector& m : kOodDetectors) {
                plot::Series s{m.label};
                s.markers = true;
                for (double t : ts_) {
                    s.x.push_back(t);
                    s.y.push_back(mean_of(t, {"ood_detection", m.key, set.c_str(), "auroc"},
                                          std::string(m.label) + " AUROC on " + set, "OOD detection"));
                }
                spec.series.push_back(s);
            }
        return {
            spec,
            "Area under the ROC curve for telling the in-distribution test set from " +
                (set.empty() ? std::string("an OOD set (none was evaluated)") : set) +
                ", mean over seeds. NECO is the paper\u2019s detector; MSP (at T = 1), MaxLogit "
                "and Energy are the baselines."};
    }

    const Sweep& sweep_;
    std::vector<const Run*> runs_;
    Notes& notes_;
    std::vector<double> ts_;
};

// The page's CSS lives in experiments/report.css, embedded at build time (CMakeLists.txt).
constexpr const char* kStyle =
#include "report_style.inc"
    ;

}  // namespace

namespace {

struct FigureGroup {
    std::string title;  // model, data set, init scale, head norm
    std::vector<Figure> figures;
};

// The figures of every group of runs, groups in table order. Adds to sweep.notes what cannot
// be plotted.
std::vector<FigureGroup> figure_groups(Sweep& sweep) {
    std::vector<std::pair<std::string, std::vector<const Run*>>> groups;
    for (const Run& r : sweep.runs) {
        const std::string key = group_title(r);
        if (groups.empty() || groups.back().first != key) groups.push_back({key, {}});
        groups.back().second.push_back(&r);
    }
    std::vector<FigureGroup> out;
    for (auto& [title, runs] : groups)
        out.push_back({title, GroupPlots(sweep, runs, sweep.notes).figures()});
    return out;
}

// A file name from a title: ASCII letters and digits, anything else one '-'.
std::string slug(const std::string& text) {
    std::string out;
    for (unsigned char c : text) {
        const bool keep = std::isalnum(c) && c < 128;
        if (keep) out += static_cast<char>(std::tolower(c));
        else if (!out.empty() && out.back() != '-') out += '-';
    }
    while (!out.empty() && out.back() == '-') out.pop_back();
    return out;
}

std::string csv_text(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::string csv_number(double v) {
    if (!std::isfinite(v)) return "";
    char text[32];
    std::snprintf(text, sizeof text, "%.17g", v);
    return text;
}

// The points a figure plots, one row each: series, x (its category label on a categorical
// axis), y, and the point's label when it has one.
std::string figure_csv(const plot::PlotSpec& spec) {
    std::string out = "series," + csv_text(spec.x_label.empty() ? "x" : spec.x_label) + "," +
                      csv_text(spec.y_label.empty() ? "y" : spec.y_label) + ",point_label\n";
    for (const plot::Series& s : spec.series)
        for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
            const double x = s.x[i];
            const bool category = !spec.x_category_labels.empty() && x >= 0 &&
                                  x < static_cast<double>(spec.x_category_labels.size());
            out += csv_text(s.label) + "," +
                   (category ? csv_text(spec.x_category_labels[static_cast<size_t>(x)])
                             : csv_number(x)) +
                   "," + csv_number(s.y[i]) + "," +
                   (i < s.point_labels.size() ? csv_text(s.point_labels[i]) : "") + "\n";
        }
    return out;
}

// The figure as a standalone SVG file (namespaced, its caption as the description).
std::string figure_svg_file(const Figure& f) {
    std::string svg = plot::render_svg(f.spec);
    const size_t root = svg.find("<svg");
    if (root != std::string::npos) {
        svg.insert(root + 4, " xmlns=\"http://www.w3.org/2000/svg\"");
        const size_t open_end = svg.find('>', root);
        if (open_end != std::string::npos)
            svg.insert(open_end + 1, "<desc>" + escape_xml(f.caption) + "</desc>");
    }
    return "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + svg + "\n";
}

}  // namespace

std::string report_html(const std::string& dir) {
    const fs::path root(dir);
    Sweep sweep = read_sweep(root);
    json config;
    bool has_config = false;
    if (fs::exists(root / "sweep.json")) {
        config = read_json(root / "sweep.json", "report");
        has_config = true;
    }

    std::string sections;
    const std::vector<FigureGroup> groups = figure_groups(sweep);
    for (const FigureGroup& group : groups) {
        if (groups.size() > 1) sections += "<h3>" + escape_xml(group.title) + "</h3>\n";
        sections += "<div class=\"plots\">\n";
        for (const Figure& f : group.figures)
            sections += "<figure>\n" + plot::render_svg(f.spec) + "<figcaption>" +
                        escape_xml(f.caption) + "</figcaption>\n</figure>\n";
        sections += "</div>\n";
    }

    size_t complete = 0, diagnosed = 0;
    double gamma = kNaN;
    for (const Run& r : sweep.runs) {
        complete += r.complete(), diagnosed += r.diagnosed();
        if (r.diagnosed() && !std::isfinite(gamma))
            gamma = number(r.diagnostics, {"settings", "gamma"});
    }
    std::string o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
    o += "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n";
    o += "<title>kelvin sweep report</title>\n<style>" + std::string(kStyle) + "</style>\n";
    o += "</head>\n<body>\n<main>\n<h1>Temperature sweep report</h1>\n";
    o += "<p class=\"meta\">Generated " + utc_now() + " by kelvin from <code>" +
         escape_xml(fs::absolute(root).string()) + "</code>. " + std::to_string(sweep.runs.size()) +
         " finished run" + (sweep.runs.size() == 1 ? "" : "s") + " (" + std::to_string(complete) +
         " complete, " + std::to_string(diagnosed) + " with diagnostics)";
    if (sweep.partial)
        o += "; " + std::to_string(sweep.partial) + " in progress (.partial, not shown)";
    o += ".</p>\n";
    o += "<p>Softmax with temperature T, <code>softmax(z/T)</code>, enters only the training "
         "loss. This page shows how T changes the rank of the logits, their norm, the probe "
         "accuracy across layers (the tunnel), and out-of-distribution detection and "
         "generalisation. Where a temperature has several seeds, each plot shows the <b>mean "
         "over seeds</b> (the legend says how many); the table lists every run.</p>\n";
    if (has_config)
        o += "<details><summary>Sweep configuration (sweep.json)</summary><pre>" +
             escape_xml(config.dump(2)) + "</pre></details>\n";
    else
        o += "<p class=\"meta\">No sweep.json in this folder.</p>\n";

    o += "<h2>Summary</h2>\n";
    if (sweep.runs.empty()) {
        o += "<p>No finished runs yet.</p>\n";
    } else {
        o += summary_table(sweep);
        o += "<p class=\"meta\">Ranks at \u03b3 = " + (std::isfinite(gamma) ? g(gamma) : "?") +
             " of the test logits and of softmax(logits/T); logits norm = mean per-sample L2 "
             "norm at initialisation and after the last epoch; \u03ba = effective depth; per "
             "OOD set: \u03c1 = OOD generalisation drop, AUROC of each detector "
             "(in-distribution positive), OrthoDev = mean |cos| between class means and the "
             "OOD mean. Hover over a row for the run\u2019s folder name.</p>\n";
    }
    o += "<h2>Plots</h2>\n" +
         (sweep.runs.empty() ? std::string("<p>Nothing to plot.</p>\n") : sections);
    o += "<h2>Left out</h2>\n" + sweep.notes.html();
    o += "</main>\n</body>\n</html>\n";
    return o;
}

std::vector<std::string> write_figures(const std::string& dir) {
    Sweep sweep = read_sweep(dir);
    const fs::path folder = fs::path(dir) / "figures";
    fs::create_directories(folder);
    std::vector<std::string> written;
    const std::vector<FigureGroup> groups = figure_groups(sweep);
    for (size_t group = 0; group < groups.size(); ++group)
        for (const Figure& f : groups[group].figures) {
            const std::string stem =
                "group" + std::to_string(group + 1) + "-" + slug(f.spec.title);
            write_file_atomically((folder / (stem + ".svg")).string(), figure_svg_file(f));
            write_file_atomically((folder / (stem + ".csv")).string(), figure_csv(f.spec));
            written.push_back((folder / (stem + ".svg")).string());
        }
    return written;
}

std::string write_report(const std::string& dir) {
    const std::string html = report_html(dir);
    const std::string path = (fs::path(dir) / "report.html").string();
    write_file_atomically(path, html);
    write_figures(dir);
    return path;
}

}  // namespace kelvin::experiments
