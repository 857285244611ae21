// A run's numeric results by name, as the statistics over seeds and the claims read them
// (analysis/run_results.h), from its typed records (experiments/run_record.h).
//
// Result names, and the record fields they come from (experiments/run_metrics.h, run_diagnostics.h):
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

#include <map>
#include <string>

#include "analysis/run_results.h"
#include "experiments/run_record.h"

namespace kelvin::experiments {

// The results of a run's metrics.json and diagnostics.json (either may be missing: nullptr;
// its results are then absent, and so is any value the file lacks or holds as null).
std::map<std::string, double> record_results(const Metrics* metrics,
                                             const Diagnostics* diagnostics);

// A run with a config that read (run.config): temperature, seed, model and dataset, init_scale
// and head_norm, the numbers as config.json holds them (the shortest text of the float);
// `other` holds model and dataset, the sweep's other grid axes. The results as record_results.
analysis::RunResults run_results_of(const RunRecord& run);

}  // namespace kelvin::experiments
