// The report's Claims section: each claim of the paper tested on the sweep's runs
// (analysis/claims.h), with its verdict, effect, p-values and the runs it used.
#pragma once

#include <string>
#include <vector>

#include "analysis/claims.h"

namespace kelvin::experiments::report {

// The section's HTML; `alpha` is the level the verdicts were taken at.
std::string claims_html(const std::vector<analysis::ClaimResult>& claims, double alpha);

}  // namespace kelvin::experiments::report
