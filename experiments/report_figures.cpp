#include "experiments/report_figures.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <map>

#include "analysis/statistics.h"
#include "experiments/report_format.h"
#include "experiments/run_files.h"

namespace kelvin::experiments::report {

namespace {

constexpr const char* kLogitsNormLabel = "mean per-sample logits norm \u2016z\u2016\u2082";

// What every figure's caption adds about the spread over seeds.
constexpr const char* kSpreadNote =
    " Bold lines and points: mean over seeds; band (error bars on a scatter): its 95% Student t "
    "interval, drawn where a point has 2 or more seeds and clipped to the range the quantity "
    "can take; faint lines: each seed on its own. The legend gives n, the number of seeds.";

std::string n_text(size_t lo, size_t hi) {
    return "n = " + std::to_string(lo) + (hi > lo ? "\u2013" + std::to_string(hi) : "");
}

std::string legend_for(double t, size_t seeds) { return "T = " + g(t) + " (" + n_text(seeds, seeds) + ")"; }

// A point of a mean series: the mean of the finite values at x and its 95% t interval (NaN
// bounds below two values). Returns how many values it used.
size_t push_mean(plot::Series& s, double x, const std::vector<double>& values) {
    std::vector<double> finite;
    for (double v : values)
        if (std::isfinite(v)) finite.push_back(v);
    s.x.push_back(x);
    if (finite.empty()) {
        s.y.push_back(kNaN), s.y_low.push_back(kNaN), s.y_high.push_back(kNaN);
        return 0;
    }
    const analysis::SeedSummary summary = analysis::summarize(finite);
    s.y.push_back(summary.mean);
    s.y_low.push_back(finite.size() >= 2 ? summary.ci_low : kNaN);
    s.y_high.push_back(finite.size() >= 2 ? summary.ci_high : kNaN);
    return finite.size();
}

// A t interval knows nothing of the range a quantity can take (a rank of 3 +/- 2.5 over three
// seeds reaches below 0): the bands are clipped to it, as the captions say.
void clip_intervals(plot::PlotSpec& spec, double lo, double hi, bool x_too = false) {
    auto clip = [&](std::vector<double>& v) {
        for (double& b : v)
            if (std::isfinite(b)) b = std::clamp(b, lo, hi);
    };
    for (plot::Series& s : spec.series) {
        clip(s.y_low), clip(s.y_high);
        if (x_too) clip(s.x_low), clip(s.x_high);
    }
}

plot::Series faint_series(const std::string& name, int color, bool dashed = false) {
    plot::Series s;
    s.data_name = name;
    s.faint = true;
    s.color = color;
    s.dashed = dashed;
    return s;
}

// The counts of values behind the points of one series, for its legend.
class Counts {
public:
    void add(size_t n) {
        if (n == 0) return;
        lo_ = std::min(lo_, n), hi_ = std::max(hi_, n);
    }
    std::string text() const { return hi_ == 0 ? "n = 0" : n_text(lo_, hi_); }

private:
    size_t lo_ = SIZE_MAX, hi_ = 0;
};

// A number of a run's diagnostics that a plot shows against T; NaN where the run has none.
using Measure = std::function<double(const Diagnostics&)>;

double kappa_of(const Diagnostics& d) { return d.kappa; }

Measure rho_on(const std::string& set) {
    return [set](const Diagnostics& d) {
        auto it = d.rho.find(set);
        return it == d.rho.end() ? kNaN : it->second;
    };
}

Measure auroc_of(const std::string& detector, const std::string& set) {
    return [detector, set](const Diagnostics& d) {
        auto sets = d.ood_detection.find(detector);
        if (sets == d.ood_detection.end()) return kNaN;
        auto it = sets->second.find(set);
        return it == sets->second.end() ? kNaN : it->second.auroc;
    };
}

class GroupPlots {
public:
    GroupPlots(const Sweep& sweep, std::vector<const Run*> runs, Notes& notes)
        : sweep_(sweep), runs_(std::move(runs)), notes_(notes) {
        for (const Run* r : runs_) {
            if (std::find(ts_.begin(), ts_.end(), r->temperature) == ts_.end() &&
                std::isfinite(r->temperature))
                ts_.push_back(r->temperature);
            if (r->complete() && std::find(seeds_.begin(), seeds_.end(), r->seed) == seeds_.end())
                seeds_.push_back(r->seed);
        }
        std::sort(ts_.begin(), ts_.end());
        std::sort(seeds_.begin(), seeds_.end());
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
        for (Figure& f : out) f.caption += kSpreadNote;
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
    const Run* run_of(double t, const std::string& seed) const {
        for (const Run* r : at(t, true))
            if (r->seed == seed) return r;
        return nullptr;
    }
    // The values at temperature t of a diagnostics number; non-finite ones are noted.
    std::vector<double> values_of(double t, const Measure& measure, const std::string& what,
                                  const std::string& plot) {
        std::vector<double> values;
        for (const Run* r : at(t, true)) {
            const double v = measure(r->diagnostics);
            if (std::isfinite(v))
                values.push_back(v);
            else
                notes_.add(r->name,
                           what + " missing or not finite, so left out of the " + plot + " plot");
        }
        return values;
    }
    // A diagnostics number against T: the mean series (label with n) and one faint line per seed.
    std::vector<plot::Series> against_t(const Measure& measure,
                                        const std::string& label, int color, bool dashed,
                                        const std::string& what, const std::string& plot) {
        plot::Series mean{label};
        mean.color = color, mean.dashed = dashed, mean.markers = true;
        Counts counts;
        for (double t : ts_) counts.add(push_mean(mean, t, values_of(t, measure, what, plot)));
        mean.label += " (" + counts.text() + ")";
        std::vector<plot::Series> out;
        if (seeds_.size() > 1)
            for (const std::string& seed : seeds_) {
                plot::Series s = faint_series(label + ", seed " + seed, color, dashed);
                for (double t : ts_) {
                    const Run* r = run_of(t, seed);
                    s.x.push_back(t);
                    s.y.push_back(r ? measure(r->diagnostics) : kNaN);
                }
                out.push_back(s);
            }
        out.push_back(mean);  // drawn over the faint lines
        return out;
    }

    // ---- step-by-step dynamics, from metrics.json's "track" (train --track-every) ----------
    static const std::vector<TrackRecord>* track_of(const Run& r) {
        const auto& track = r.metrics.track;
        return track && track->size() >= 2 ? &*track : nullptr;
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
                                   double(r->diagnostics.rank.classes));
        return classes;
    }
    // Per T: one faint line per run of `points(run)` (x -> y), and their mean with its band,
    // point by point over the x every run shares... or any run has (the n of a point is how
    // many runs have it).
    using Points = std::map<double, double>;
    std::vector<plot::Series> per_t_curves(bool need_diagnostics,
                                           const std::function<bool(const Run&, Points&)>& points) {
        std::vector<plot::Series> faint, means;
        for (double t : ts_) {
            std::map<double, std::vector<double>> by_x;
            size_t runs = 0;
            for (const Run* r : at(t, need_diagnostics)) {
                Points p;
                if (!points(*r, p)) continue;
                ++runs;
                plot::Series s = faint_series("T = " + g(t) + ", seed " + or_dash(r->seed), color_of(t));
                for (auto& [x, y] : p) {
                    s.x.push_back(x), s.y.push_back(y);
                    by_x[x].push_back(y);
                }
                faint.push_back(s);
            }
            plot::Series mean{legend_for(t, runs)};
            mean.color = color_of(t);
            for (auto& [x, values] : by_x)
                if (std::isfinite(x)) push_mean(mean, x, values);
            means.push_back(mean);
        }
        if (seeds_.size() < 2) faint.clear();
        faint.insert(faint.end(), means.begin(), means.end());
        return faint;
    }
    std::vector<plot::Series> track_series(double (*value)(const TrackRecord&)) {
        return per_t_curves(false, [value](const Run& r, Points& p) {
            const std::vector<TrackRecord>* track = track_of(r);
            if (!track) return false;
            for (const TrackRecord& record : *track) p[double(record.step)] = value(record);
            return true;
        });
    }

    Figure track_loss() {
        plot::PlotSpec spec;
        spec.title = "Training dynamics: loss";
        spec.x_label = "training step";
        spec.y_label = "cross-entropy at T on the monitoring batch";
        spec.x_min = 0;
        spec.y_min = 0;
        spec.series = track_series([](const TrackRecord& t) { return t.loss; });
        const double c = classes();
        if (std::isfinite(c) && c > 1)
            spec.hlines.push_back({std::log(c), "ln C = " + sig3(std::log(c)) + " (uniform)"});
        clip_intervals(spec, 0, INFINITY);
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
        spec.series = track_series([](const TrackRecord& t) { return t.logits_norm; });
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
        spec.series = track_series([](const TrackRecord& t) { return double(t.rank); });
        const double c = classes();
        if (std::isfinite(c) && c > 1)
            spec.hlines.push_back({c - 1, "C \u2212 1 = " + g(c - 1)});
        clip_intervals(spec, 0, INFINITY);
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
                gamma = r->diagnostics.settings.gamma;
        const double classes = this->classes();
        spec.y_label = "numerical rank" +
                       (std::isfinite(gamma) ? " (\u03b3 = " + g(gamma) + ")" : std::string());
        spec.log_x = true;
        spec.y_min = 0;
        spec.y_integer = true;
        for (auto& s : against_t([](const Diagnostics& d) { return double(d.rank.logits); },
                                 "rank(logits)", 0, false, "rank(logits)", "rank"))
            spec.series.push_back(s);
        for (auto& s : against_t([](const Diagnostics& d) { return double(d.rank.softmax); },
                                 "rank(softmax(z/T))", 1, true, "rank(softmax)", "rank"))
            spec.series.push_back(s);
        if (std::isfinite(classes) && classes > 1) {
            spec.hlines.push_back(
                {classes - 1, "C \u2212 1 = " + g(classes - 1) + " (Neural Collapse)"});
            spec.y_max = classes;
        }
        clip_intervals(spec, 0, std::isfinite(classes) ? classes : INFINITY);
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
        spec.series = per_t_curves(false, [&](const Run& r, Points& p) {
            const double init = r.metrics.init ? r.metrics.init->logits_norm : kNaN;
            if (std::isfinite(init))
                p[0] = init;
            else
                notes_.add(r.name, std::string("logits norm at initialisation ") + kNotPlotted);
            const std::vector<EpochRecord>& epochs = r.metrics.epochs;
            for (size_t i = 0; i < epochs.size(); ++i) {
                // A record without its epoch number (hand-edited): its place in the list.
                const double epoch = epochs[i].epoch > 0 ? double(epochs[i].epoch) : double(i + 1);
                const double v = epochs[i].test.logits_norm;
                if (std::isfinite(v)) {
                    p[epoch] = v;
                    continue;
                }
                notes_.add(r.name, "logits norm of epoch " + g(epoch) + " " + kNotPlotted);
            }
            return true;
        });
        for (plot::Series& s : spec.series) s.markers = !s.faint && s.x.size() <= 15;
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
        spec.series = per_t_curves(true, [&](const Run& r, Points& p) {
            const std::vector<double>& sv = r.diagnostics.singular_values.logits;
            if (sv.empty() || !(sv[0] > 0)) {
                notes_.add(r.name, "no logits spectrum: left out of the spectrum plot");
                return false;
            }
            for (size_t i = 0; i < sv.size(); ++i) p[static_cast<double>(i + 1)] = sv[i] / sv[0];
            return true;
        });
        for (plot::Series& s : spec.series) s.markers = !s.faint && s.x.size() <= 20;
        clip_intervals(spec, 0, 1);
        return {
            spec,
            "Singular values of the test logits divided by the largest. The dashed lines are "
            "the rank thresholds \u03b3 = 10\u207b\u00b2, 10\u207b\u00b3 (the default) and "
            "10\u207b\u2074: the rank is the number of points above the line. Exact zeros cannot "
            "be drawn on a log axis and are left out."};
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
            if (!r->diagnosed()) continue;
            const std::vector<std::string>& layers = r->diagnostics.probes.layers;
            if (layers.size() > spec.x_category_labels.size()) spec.x_category_labels = layers;
        }
        const size_t layers = spec.x_category_labels.size();
        // The accuracies per layer of the in-distribution probes (set "") or of an OOD set's.
        auto curves = [&](const std::string& ood_set, const std::string& what) {
            return [this, ood_set, what, layers](const Run& r, Points& p) {
                const ProbeSection& probes = r.diagnostics.probes;
                const auto it = probes.ood.find(ood_set);
                if (ood_set.empty() ? probes.id.empty() : it == probes.ood.end()) {
                    notes_.add(r.name, "no " + what + " probe accuracies: left out of the probe plot");
                    return false;
                }
                const std::vector<double>& acc = ood_set.empty() ? probes.id : it->second;
                for (size_t l = 0; l < acc.size() && l < layers; ++l) p[static_cast<double>(l)] = acc[l];
                return true;
            };
        };
        spec.series = per_t_curves(true, curves("", "in-distribution"));
        for (plot::Series& s : spec.series) s.markers = !s.faint;
        if (!set.empty()) {
            std::vector<plot::Series> ood = per_t_curves(true, curves(set, set));
            for (plot::Series& s : ood) {
                s.dashed = true, s.markers = !s.faint;
                s.data_name = (s.faint ? s.data_name : s.label) + ", OOD";
                s.label.clear();  // the legend's T entries are the solid lines'
                spec.series.push_back(s);
            }
            plot::Series solid{"in-distribution"}, dashed{"OOD: " + set};  // a style key
            solid.color = dashed.color = 6;                                 // black
            dashed.dashed = true;
            spec.series.push_back(solid);
            spec.series.push_back(dashed);
        }
        clip_intervals(spec, 0, 1);
        return {spec,
                "Test accuracy of a linear probe trained on the frozen features after each layer. "
                "Solid: in-distribution" +
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
            plot::Series mean{"OOD: " + set};
            mean.lines = false;
            mean.color = static_cast<int>(k);
            plot::Series each = faint_series("OOD: " + set + ", each run", static_cast<int>(k));
            each.lines = false;
            Counts counts;
            for (double t : ts_) {
                const auto kappas = values_of(t, kappa_of, "\u03ba", "\u03ba\u2013\u03c1");
                const auto rhos = values_of(t, rho_on(set), "\u03c1 on " + set, "\u03ba\u2013\u03c1");
                plot::Series x;  // the kappa mean and interval, moved into the x coordinates
                push_mean(x, t, kappas);
                counts.add(push_mean(mean, t, rhos));
                mean.x.back() = x.y.back();
                mean.x_low.push_back(x.y_low.back()), mean.x_high.push_back(x.y_high.back());
                mean.point_labels.push_back("T=" + g(t));
                for (const Run* r : at(t, true))
                    each.x.push_back(kappa_of(r->diagnostics)),
                        each.y.push_back(rho_on(set)(r->diagnostics));
            }
            mean.label += " (" + counts.text() + ")";
            if (seeds_.size() > 1) spec.series.push_back(each);
            spec.series.push_back(mean);
        }
        clip_intervals(spec, 0, 1, true);
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
            for (size_t k = 0; k < std::size(kOodDetectors); ++k) {
                const OodDetector& m = kOodDetectors[k];
                for (auto& s : against_t(auroc_of(m.key, set), m.label,
                                         static_cast<int>(k), false,
                                         std::string(m.label) + " AUROC on " + set, "OOD detection"))
                    spec.series.push_back(s);
            }
        clip_intervals(spec, 0, 1);
        return {
            spec,
            "Area under the ROC curve for telling the in-distribution test set from " +
                (set.empty() ? std::string("an OOD set (none was evaluated)") : set) +
                ". NECO is the paper\u2019s detector; MSP (at T = 1), MaxLogit and Energy are the "
                "baselines. Each run\u2019s own 95% interval over test samples (bootstrap and "
                "DeLong) is in its diagnostics.json."};
    }

    const Sweep& sweep_;
    std::vector<const Run*> runs_;
    Notes& notes_;
    std::vector<double> ts_;
    std::vector<std::string> seeds_;
};

}  // namespace

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

}  // namespace kelvin::experiments::report
