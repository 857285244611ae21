#include "experiments/run_diagnostics.h"

#include "engine/device.h"
#include "experiments/record_fields.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;
using namespace record_fields;

namespace {

RanksByGamma ranks_from(const json& j) {
    return map_of<int64_t>(j, [](const json& v) { return integer_value(v).value_or(0); });
}

LayerRank layer_rank_from(const json& j) {
    return {text(j, "name"), integer(j, "rank"), ranks_from(field(j, "by_gamma")),
            integer(j, "rows"), integer(j, "cols"), integer(j, "features"),
            integer(j, "columns_ranked")};
}

json layer_rank_json(const LayerRank& l) {
    return {{"name", l.name}, {"rank", l.rank}, {"by_gamma", l.by_gamma}, {"rows", l.rows},
            {"cols", l.cols}, {"features", l.features}, {"columns_ranked", l.columns_ranked}};
}

RankSection rank_from(const json& j) {
    RankSection r;
    r.logits = integer(j, "logits");
    r.softmax = integer(j, "softmax");
    r.classes = integer(j, "classes");
    r.logits_by_gamma = ranks_from(field(field(j, "by_gamma"), "logits"));
    r.softmax_by_gamma = ranks_from(field(field(j, "by_gamma"), "softmax"));
    if (field(j, "layers").is_array())
        for (const json& l : j["layers"]) r.layers.push_back(layer_rank_from(l));
    return r;
}

json rank_json(const RankSection& r) {
    json layers = json::array();
    for (const LayerRank& l : r.layers) layers.push_back(layer_rank_json(l));
    return {{"logits", r.logits},
            {"softmax", r.softmax},
            {"by_gamma", {{"logits", r.logits_by_gamma}, {"softmax", r.softmax_by_gamma}}},
            {"layers", layers},
            {"classes", r.classes}};
}

std::optional<Bounds> bounds_from(const json& j) {
    const std::vector<double> v = numbers(j);
    if (v.size() != 2) return std::nullopt;
    return Bounds{v[0], v[1]};
}

json bounds_json(const Bounds& b) { return {b.low, b.high}; }

DetectionRecord detection_from(const json& j) {
    DetectionRecord d;
    d.auroc = number(j, "auroc");
    d.fpr95 = number(j, "fpr95");
    d.auroc_delong = bounds_from(field(field(j, "auroc_interval"), "delong"));
    d.auroc_bootstrap = bounds_from(field(field(j, "auroc_interval"), "bootstrap"));
    d.fpr95_bootstrap = bounds_from(field(field(j, "fpr95_interval"), "bootstrap"));
    const json& method = field(j, "interval_method");
    if (method.is_object())
        d.interval_method = IntervalMethod{text(method, "bootstrap"), text(method, "auroc"),
                                           integer(method, "resamples"),
                                           static_cast<uint64_t>(integer(method, "seed")),
                                           number(method, "level")};
    return d;
}

json detection_json(const DetectionRecord& d) {
    json j = {{"auroc", d.auroc}, {"fpr95", d.fpr95}};
    if (d.auroc_delong || d.auroc_bootstrap) j["auroc_interval"] = json::object();
    if (d.auroc_delong) j["auroc_interval"]["delong"] = bounds_json(*d.auroc_delong);
    if (d.auroc_bootstrap) j["auroc_interval"]["bootstrap"] = bounds_json(*d.auroc_bootstrap);
    if (d.fpr95_bootstrap) j["fpr95_interval"] = {{"bootstrap", bounds_json(*d.fpr95_bootstrap)}};
    if (const auto& m = d.interval_method)
        j["interval_method"] = {{"bootstrap", m->bootstrap}, {"resamples", m->resamples},
                                {"seed", m->seed},           {"level", m->level},
                                {"auroc", m->auroc}};
    return j;
}

DiagnoseSettings settings_from(const json& j) {
    DiagnoseSettings s;
    s.gamma = number(j, "gamma");
    s.gammas_reported = numbers(field(j, "gammas_reported"));
    s.centered = flag(j, "centered");
    s.samples_ranked = integer(j, "samples_ranked");
    s.probe_train_samples = integer(j, "probe_train_samples");
    s.max_features = integer(j, "max_features");
    s.max_rank_columns = integer(j, "max_rank_columns");
    const json& probe = field(j, "probe");
    s.probe_optimizer = text(probe, "optimizer");
    s.probe_lr = number(probe, "lr");
    s.probe_epochs = integer(probe, "epochs");
    s.probe_batch_size = integer(probe, "batch_size");
    s.probe_standardize = flag(probe, "standardize");
    s.kappa_fraction = number(j, "kappa_fraction");
    s.ood = texts(field(j, "ood"));
    s.device = text(j, "device");
    s.run_status = text(j, "run_status");
    s.run_epochs_done = optional_integer(j, "run_epochs_done");
    s.neco_dim = integer(j, "neco_dim");
    s.neco_times_max_logit = flag(j, "neco_times_max_logit");
    return s;
}

json settings_json(const DiagnoseSettings& s) {
    json j = {{"gamma", s.gamma},
              {"gammas_reported", s.gammas_reported},
              {"centered", s.centered},
              {"samples_ranked", s.samples_ranked},
              {"probe_train_samples", s.probe_train_samples},
              {"max_features", s.max_features},
              {"max_rank_columns", s.max_rank_columns},
              {"probe", {{"optimizer", s.probe_optimizer},
                         {"lr", s.probe_lr},
                         {"epochs", s.probe_epochs},
                         {"batch_size", s.probe_batch_size},
                         {"standardize", s.probe_standardize}}},
              {"kappa_fraction", s.kappa_fraction},
              {"ood", s.ood},
              {"device", s.device},
              {"run_status", s.run_status},
              {"neco_dim", s.neco_dim},
              {"neco_times_max_logit", s.neco_times_max_logit}};
    put_optional(j, "run_epochs_done", s.run_epochs_done);
    return j;
}

std::optional<WeightsRecord> weights_from(const json& j) {
    if (!j.is_object()) return std::nullopt;
    return WeightsRecord{text(j, "file"), text(j, "weights_digest"),
                         optional_integer(j, "epochs_done"), optional_integer(j, "step")};
}

json weights_json(const WeightsRecord& w) {
    json j = {{"file", w.file}, {"weights_digest", w.weights_digest}};
    put_optional(j, "epochs_done", w.epochs_done);
    put_optional(j, "step", w.step);
    return j;
}

std::map<std::string, double> numbers_by_set(const json& j) {
    return map_of<double>(j, [](const json& v) { return v.is_number() ? v.get<double>() : kNoValue; });
}

}  // namespace

Diagnostics diagnostics_from_json(const json& j) {
    Diagnostics d;
    d.accuracy = number(j, "accuracy");
    d.kappa = number(j, "kappa");
    d.temperature = number(j, "temperature");
    d.seconds = number(j, "seconds");
    d.rank = rank_from(field(j, "rank"));
    const json& sv = field(j, "singular_values");
    d.singular_values = {numbers(field(sv, "logits")), numbers(field(sv, "softmax")),
                         map_of<std::vector<double>>(field(sv, "layers"), numbers)};
    const json& norm = field(j, "logits_norm");
    d.logits_norm = {number(norm, "mean"), number(norm, "frobenius"), number(norm, "sigma_1")};
    const json& probes = field(j, "probes");
    d.probes = {texts(field(probes, "layers")), numbers(field(probes, "id")),
                map_of<std::vector<double>>(field(probes, "ood"), numbers)};
    d.rho = numbers_by_set(field(j, "rho"));
    d.orthodev = numbers_by_set(field(j, "orthodev"));
    d.ood_detection = map_of<std::map<std::string, DetectionRecord>>(
        field(j, "ood_detection"),
        [](const json& sets) { return map_of<DetectionRecord>(sets, detection_from); });
    d.settings = settings_from(field(j, "settings"));
    d.weights = weights_from(field(j, "weights"));
    return d;
}

json diagnostics_to_json(const Diagnostics& d) {
    json j;
    j["accuracy"] = d.accuracy;
    j["kappa"] = d.kappa;
    j["temperature"] = d.temperature;
    j["seconds"] = d.seconds;
    j["rank"] = rank_json(d.rank);
    j["singular_values"] = {{"logits", d.singular_values.logits},
                            {"softmax", d.singular_values.softmax},
                            {"layers", d.singular_values.layers}};
    j["logits_norm"] = {{"mean", d.logits_norm.mean},
                        {"frobenius", d.logits_norm.frobenius},
                        {"sigma_1", d.logits_norm.sigma_1}};
    j["probes"] = {{"layers", d.probes.layers}, {"id", d.probes.id}, {"ood", d.probes.ood}};
    j["rho"] = d.rho;
    j["orthodev"] = d.orthodev;
    j["ood_detection"] = json::object();
    for (const auto& [detector, sets] : d.ood_detection)
        for (const auto& [set, record] : sets) j["ood_detection"][detector][set] = detection_json(record);
    j["settings"] = settings_json(d.settings);
    if (d.weights) j["weights"] = weights_json(*d.weights);
    return j;
}

std::string diagnostics_file_text(const Diagnostics& d) {
    return diagnostics_to_json(d).dump(2) + "\n";
}

}  // namespace kelvin::experiments
