#include "analysis/run_results.h"

#include <cmath>

namespace kelvin::analysis {
namespace {

using json = nlohmann::json;

void put(std::map<std::string, double>& out, const std::string& name, const json& j) {
    if (j.is_number()) out[name] = j.get<double>();
}

// j[key] when j is an object holding it, else null (records written by older versions may lack
// any of the fields).
const json& field(const json& j, const char* key) {
    static const json null;
    return j.is_object() && j.contains(key) ? j[key] : null;
}

void metrics_results(const json& metrics, std::map<std::string, double>& out) {
    const json& final = field(metrics, "final");
    for (const char* key : {"test_acc", "test_loss", "train_acc", "train_loss", "logits_norm",
                            "logits_norm_init"})
        put(out, key, field(final, key));
}

void rank_results(const json& rank, std::map<std::string, double>& out) {
    put(out, "rank_logits", field(rank, "logits"));
    put(out, "rank_softmax", field(rank, "softmax"));
    const json& by_gamma = field(rank, "by_gamma");
    for (const char* matrix : {"logits", "softmax"})
        if (field(by_gamma, matrix).is_object())
            for (const auto& [gamma, value] : by_gamma[matrix].items())
                put(out, std::string("rank_") + matrix + "/gamma=" + gamma, value);
    const json& layers = field(rank, "layers");
    if (!layers.is_array() || layers.empty()) return;
    for (const json& layer : layers)
        if (field(layer, "name").is_string())
            put(out, "rank_probe/" + layer["name"].get<std::string>(), field(layer, "rank"));
    put(out, "rank_probe_last", field(layers.back(), "rank"));
}

void probe_results(const json& probes, std::map<std::string, double>& out) {
    const json& names = field(probes, "layers");
    if (!names.is_array()) return;
    auto per_layer = [&](const json& accuracies, const std::string& prefix) {
        if (!accuracies.is_array()) return;
        for (size_t i = 0; i < accuracies.size() && i < names.size(); ++i)
            put(out, prefix + names[i].get<std::string>(), accuracies[i]);
    };
    per_layer(field(probes, "id"), "probe_id/");
    const json& id = field(probes, "id");
    if (id.is_array() && !id.empty()) put(out, "probe_id_last", id.back());
    const json& ood = field(probes, "ood");
    if (ood.is_object())
        for (const auto& [set, accuracies] : ood.items()) per_layer(accuracies, "probe_ood/" + set + "/");
}

void ood_results(const json& diagnostics, std::map<std::string, double>& out) {
    for (const char* key : {"rho", "orthodev"})
        if (field(diagnostics, key).is_object())
            for (const auto& [set, value] : diagnostics[key].items())
                put(out, std::string(key) + "/" + set, value);
    const json& detection = field(diagnostics, "ood_detection");
    if (!detection.is_object()) return;
    for (const auto& [method, sets] : detection.items())
        for (const auto& [set, metrics] : sets.items()) {
            put(out, method + "_auroc/" + set, field(metrics, "auroc"));
            put(out, method + "_fpr95/" + set, field(metrics, "fpr95"));
        }
}

}  // namespace

std::map<std::string, double> results_from_records(const json& metrics, const json& diagnostics) {
    std::map<std::string, double> out;
    metrics_results(metrics, out);
    const json& norm = field(diagnostics, "logits_norm");
    put(out, "logits_sigma_1", field(norm, "sigma_1"));
    put(out, "logits_frobenius", field(norm, "frobenius"));
    if (!out.count("logits_norm")) put(out, "logits_norm", field(norm, "mean"));
    if (!out.count("test_acc")) put(out, "test_acc", field(diagnostics, "accuracy"));
    rank_results(field(diagnostics, "rank"), out);
    probe_results(field(diagnostics, "probes"), out);
    put(out, "kappa", field(diagnostics, "kappa"));
    ood_results(diagnostics, out);
    return out;
}

RunResults run_results_from_json(const std::string& id, const json& config, const json& metrics,
                                 const json& diagnostics) {
    RunResults run;
    run.id = id;
    if (config.is_object()) {
        run.temperature = config.value("temperature", 1.0);
        run.seed = config.value("seed", uint64_t{0});
        for (const char* key : {"model", "dataset"})
            if (config.contains(key) && config[key].is_string()) run.other[key] = config[key].get<std::string>();
        const json& options = field(config, "model_options");
        if (options.is_object()) {
            run.init_scale = options.value("init_scale", 1.0);
            run.head_norm = options.value("head_norm", std::string("none"));
        }
    }
    run.results = results_from_records(metrics, diagnostics);
    return run;
}

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
