#include "experiments/record_results.h"

#include <cmath>

#include "experiments/settings.h"

namespace kelvin::experiments {
namespace {

using Results = std::map<std::string, double>;

// A value the file lacks or holds as null reads as NaN (experiments/run_metrics.h): absent here.
void put(Results& out, const std::string& name, double value) {
    if (!std::isnan(value)) out[name] = value;
}

void metrics_results(const Metrics& metrics, Results& out) {
    if (!metrics.final) return;
    const FinalRecord& f = *metrics.final;
    put(out, "test_acc", f.test_acc);
    put(out, "test_loss", f.test_loss);
    put(out, "train_acc", f.train_acc);
    put(out, "train_loss", f.train_loss);
    put(out, "logits_norm", f.logits_norm);
    put(out, "logits_norm_init", f.logits_norm_init);
}

void rank_results(const RankSection& rank, Results& out) {
    put(out, "rank_logits", double(rank.logits));
    put(out, "rank_softmax", double(rank.softmax));
    for (const auto& [gamma, value] : rank.logits_by_gamma)
        put(out, "rank_logits/gamma=" + gamma, double(value));
    for (const auto& [gamma, value] : rank.softmax_by_gamma)
        put(out, "rank_softmax/gamma=" + gamma, double(value));
    if (rank.layers.empty()) return;
    for (const LayerRank& layer : rank.layers)
        if (!layer.name.empty()) put(out, "rank_probe/" + layer.name, double(layer.rank));
    put(out, "rank_probe_last", double(rank.layers.back().rank));
}

void probe_results(const ProbeSection& probes, Results& out) {
    auto per_layer = [&](const std::vector<double>& accuracies, const std::string& prefix) {
        for (size_t i = 0; i < accuracies.size() && i < probes.layers.size(); ++i)
            put(out, prefix + probes.layers[i], accuracies[i]);
    };
    per_layer(probes.id, "probe_id/");
    if (!probes.id.empty()) put(out, "probe_id_last", probes.id.back());
    for (const auto& [set, accuracies] : probes.ood) per_layer(accuracies, "probe_ood/" + set + "/");
}

void ood_results(const Diagnostics& d, Results& out) {
    for (const auto& [set, value] : d.rho) put(out, "rho/" + set, value);
    for (const auto& [set, value] : d.orthodev) put(out, "orthodev/" + set, value);
    for (const auto& [detector, sets] : d.ood_detection)
        for (const auto& [set, record] : sets) {
            put(out, detector + "_auroc/" + set, record.auroc);
            put(out, detector + "_fpr95/" + set, record.fpr95);
        }
}

void diagnostics_results(const Diagnostics& d, Results& out) {
    put(out, "logits_sigma_1", d.logits_norm.sigma_1);
    put(out, "logits_frobenius", d.logits_norm.frobenius);
    if (!out.count("logits_norm")) put(out, "logits_norm", d.logits_norm.mean);
    if (!out.count("test_acc")) put(out, "test_acc", d.accuracy);
    rank_results(d.rank, out);
    probe_results(d.probes, out);
    put(out, "kappa", d.kappa);
    ood_results(d, out);
}

}  // namespace

Results record_results(const Metrics* metrics, const Diagnostics* diagnostics) {
    Results out;
    if (metrics) metrics_results(*metrics, out);
    if (diagnostics) diagnostics_results(*diagnostics, out);
    return out;
}

analysis::RunResults run_results_of(const RunRecord& run) {
    analysis::RunResults r;
    r.id = run.name;
    if (run.config) {
        const TrainConfig& c = *run.config;
        float temperature = c.temperature, init_scale = c.model_options.init_scale;
        r.temperature = settings::to_json(&temperature).get<double>();
        r.init_scale = settings::to_json(&init_scale).get<double>();
        r.head_norm = c.model_options.head_norm;
        r.seed = c.seed;
        r.other = {{"model", c.model}, {"dataset", c.dataset}};
    }
    r.results = record_results(run.metrics ? &*run.metrics : nullptr,
                               run.diagnostics ? &*run.diagnostics : nullptr);
    return r;
}

}  // namespace kelvin::experiments
