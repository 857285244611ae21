// One run of a sweep as the statistics see it: its settings and a flat map of its numeric
// results by name. Plain data, independent of how run folders are read, so that the
// aggregation over seeds (analysis/cell_summary.h) and the claims (analysis/claims.h) can be
// fed from any record type.
//
// Result names (results_from_records builds them from metrics.json and diagnostics.json):
//   test_acc, test_loss, train_acc, train_loss   metrics.json final.*
//   logits_norm          metrics.json final.logits_norm (mean_n ||z_n||, last epoch; if there is
//                        no metrics.json: diagnostics.json logits_norm.mean)
//   logits_norm_init     metrics.json final.logits_norm_init
//   logits_sigma_1, logits_frobenius              diagnostics.json logits_norm.{sigma_1,frobenius}
//   rank_logits, rank_softmax                     diagnostics.json rank.{logits,softmax}
//   rank_logits/gamma=G, rank_softmax/gamma=G     rank.by_gamma.{logits,softmax}.G (G as "%g")
//   rank_probe/<layer>, rank_probe_last           rank.layers[i].rank by name; the last one
//   probe_id/<layer>, probe_id_last               probes.id[i] (probes.layers[i] names it)
//   probe_ood/<set>/<layer>                       probes.ood.<set>[i]
//   kappa                                         kappa
//   rho/<set>                                     rho.<set>
//   <method>_auroc/<set>, <method>_fpr95/<set>    ood_detection.<method>.<set>.{auroc,fpr95},
//                                                 method in neco, msp, max_logit, energy
//   orthodev/<set>                                orthodev.<set>
// <set> is the OOD data set spec as written in the sweep (e.g. fashion-mnist:classes=5-9).
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
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

// The numeric results of a run from its metrics.json and diagnostics.json (either may be a
// null json when the file is missing; its results are then absent).
std::map<std::string, double> results_from_records(const nlohmann::json& metrics,
                                                   const nlohmann::json& diagnostics);

// A run from its three record files as `kelvin train` writes them (null json where a file is
// missing): temperature, seed, model and dataset from config.json's top level, init_scale and
// head_norm from its model_options (defaults 1 and "none"); `other` holds model and dataset,
// the sweep's other grid axes. The results as results_from_records.
RunResults run_results_from_json(const std::string& id, const nlohmann::json& config,
                                 const nlohmann::json& metrics, const nlohmann::json& diagnostics);

// A result by name: the value itself when `name` is a key; otherwise the mean over the keys
// "name/..." (so "rho" is the mean of rho over the OOD sets, "neco_auroc" NECO's mean AUROC);
// nothing when neither exists or the value is not finite. So every key under "name/" must be the
// same quantity for another OOD set: name an interval "neco_auroc_low/<set>", not
// "neco_auroc/<set>/low".
std::optional<double> result_value(const RunResults& run, const std::string& name);

}  // namespace kelvin::analysis
