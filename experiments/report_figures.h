// The report's figures as data (plot::PlotSpec: series, axes, scales, reference lines) with
// their captions, per group of runs: ranks, logits norm per epoch, the training dynamics of
// --track-every, spectra, probe accuracy per layer, kappa vs rho, OOD detection. Means over seeds
// with their 95% t intervals, each seed faintly. One renderer draws them (experiments/svg_plot.h).
#pragma once

#include <string>
#include <vector>

#include "experiments/report_sweep.h"
#include "experiments/svg_plot.h"

namespace kelvin::experiments::report {

// A figure as data: what to plot (series, axes, scales, reference lines) and its caption. The
// page inlines plot::render_svg(spec); write_report also saves each as its own SVG and CSV.
struct Figure {
    plot::PlotSpec spec;
    std::string caption;
};

struct FigureGroup {
    std::string title;  // model, data set, init scale, head norm
    std::vector<Figure> figures;
};

// The figures of every group of runs, groups in table order. Adds to sweep.notes what cannot
// be plotted.
std::vector<FigureGroup> figure_groups(Sweep& sweep);

}  // namespace kelvin::experiments::report
