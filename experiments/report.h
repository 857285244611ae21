// `kelvin report DIR`: one self-contained HTML page (inline CSS and SVG, no scripts, nothing
// fetched) summarising a temperature sweep written by `kelvin sweep`:
//   DIR/sweep.json                 the sweep's configuration (shown collapsed)
//   DIR/runs/<name>/config.json    each finished run (directories ending in .partial are skipped)
//   DIR/runs/<name>/metrics.json
//   DIR/runs/<name>/diagnostics.json   (absent for a diverged run, for instance)
// The page holds a summary table (one row per run, OOD columns per OOD set) and, per group of
// runs sharing (model, dataset, init scale, head norm), plots against the temperature T: ranks,
// logits norm per epoch, logits spectra, probe accuracy per layer, kappa vs rho, OOD detection.
// Runs or values that cannot be plotted are left out and listed with the reason. Each figure is
// also written on its own (write_figures).
#pragma once

#include <string>
#include <vector>

namespace kelvin::experiments {

// The page's HTML. Throws kelvin::Error when DIR/runs is missing or a JSON file is malformed
// (the message names the file).
std::string report_html(const std::string& dir);

// Every figure of the page as its own file, for papers: DIR/figures/group<G>-<title>.svg (a
// standalone SVG with the caption as its <desc>) and .csv (the points it plots: series, x, y,
// point label). Returns the SVG paths.
std::vector<std::string> write_figures(const std::string& dir);

// Writes DIR/report.html (atomically) and the figures above; returns the page's path.
std::string write_report(const std::string& dir);

}  // namespace kelvin::experiments
