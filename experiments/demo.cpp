#include "experiments/demo.h"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "analysis/cell_summary.h"
#include "analysis/claims.h"
#include <omp.h>

#include "engine/interruption.h"
#include "engine/phase_progress.h"
#include "experiments/progress.h"
#include "experiments/summary_table.h"
#include "experiments/sweep_processes.h"

namespace kelvin::experiments {

using json = nlohmann::json;

SweepConfig demo_config(Device device, int seeds) {
    // On a GPU the grid adds one network of every other family the paper studies.
    const json models = device == Device::CUDA ? json{"mlp", "vgg11bn", "resnet18", "vit"}
                                               : json{"mlp"};
    json seed_list = json::array();
    for (int s = 1; s <= seeds; ++s) seed_list.push_back(s);
    json j = {{"models", models},
              {"datasets", {"fashion-mnist:classes=0-4"}},
              {"ood", {"fashion-mnist:classes=5-9"}},
              {"temperatures", {1, 10, 100}},
              {"seeds", seed_list},
              {"epochs", 8},
              {"batch_size", 128},
              {"optimizer", "sgd"},
              {"lr", 0.05},
              {"momentum", 0.9},
              {"depth", 6},
              {"width", 512},
              {"samples", 5000},
              {"probe_train_samples", 5000},
              {"track_every", 20},  // the step-by-step dynamics plots of the report
              {"device", device == Device::CUDA ? "cuda" : "cpu"}};
    return parse_sweep_config(j, "demo");
}

namespace {

// "mean ± h" with h the half-width of the 95% t interval; "mean" alone for one seed.
std::string plus_minus(const analysis::CellSummary& c, const std::string& result, const char* format) {
    auto it = c.results.find(result);
    if (it == c.results.end() || it->second.n == 0) return "-";
    const analysis::SeedSummary& s = it->second;
    char buf[64];
    std::snprintf(buf, sizeof buf, format, s.mean);
    std::string out = buf;
    if (s.n >= 2 && std::isfinite(s.ci_high)) {
        std::snprintf(buf, sizeof buf, format, (s.ci_high - s.ci_low) / 2);
        out += "\u00b1" + std::string(buf);
    }
    return out;
}

// Left-aligned in `width` characters (not bytes: "±" is two bytes in UTF-8), one space after.
std::string pad(const std::string& text, size_t width) {
    size_t chars = 0;
    for (unsigned char c : text) chars += (c & 0xC0) != 0x80;
    return text + std::string(chars < width ? width - chars : 0, ' ') + " ";
}

std::string number_text(double v, const char* format) {
    if (!std::isfinite(v)) return "-";
    char buf[48];
    std::snprintf(buf, sizeof buf, format, v);
    return buf;
}

}  // namespace

std::string demo_tables(const std::string& out_dir) {
    const std::vector<RunRecord> records = load_runs(out_dir, "demo");
    const std::vector<analysis::RunResults> runs = complete_run_results(records);
    const std::vector<analysis::CellSummary> cells = analysis::summarize_by_cell(runs);
    std::string ood;
    for (const analysis::RunResults& r : runs)
        for (const auto& [name, v] : r.results)
            if (ood.empty() && name.rfind("rho/", 0) == 0) ood = name.substr(4);
    std::string o =
        "\nOver seeds: mean \u00b1 half-width of the 95% Student t interval, n seeds "
        "(summary_by_cell.md)\n";
    const size_t widths[] = {8, 5, 2, 13, 12, 13, 13, 11, 13, 13, 13};
    auto row = [&](const std::vector<std::string>& fields) {
        std::string r;
        for (size_t i = 0; i < fields.size(); ++i) r += pad(fields[i], widths[i]);
        while (!r.empty() && r.back() == ' ') r.pop_back();
        return r + "\n";
    };
    o += row({"model", "T", "n", "test_acc", "rank(logits)", "rank(softmax)", "logits_norm",
              "kappa", "rho", "NECO_AUROC", "MSP_AUROC"});
    for (const analysis::CellSummary& c : cells) {
        auto model = c.cell.other.find("model");
        int64_t n = 0;
        if (auto it = c.results.find("test_acc"); it != c.results.end()) n = it->second.n;
        o += row({model == c.cell.other.end() ? "-" : model->second,
                  number_text(c.cell.temperature, "%g"), std::to_string(n),
                  plus_minus(c, "test_acc", "%.3f"), plus_minus(c, "rank_logits", "%.2g"),
                  plus_minus(c, "rank_softmax", "%.2g"), plus_minus(c, "logits_norm", "%.3g"),
                  plus_minus(c, "kappa", "%.2f"), plus_minus(c, "rho/" + ood, "%.3f"),
                  plus_minus(c, "neco_auroc/" + ood, "%.3f"),
                  plus_minus(c, "msp_auroc/" + ood, "%.3f")});
    }
    const std::vector<analysis::ClaimResult> claims = analysis::test_claims(runs);
    char line[1024];
    o += "\nThe paper's claims on this sweep (claims.json; docs/METHODS.md, \"Claims as tests\"):\n";
    std::snprintf(line, sizeof line, "%-3s %-13s %-22s %-8s %-9s %s\n", "#", "verdict",
                  "effect [95% interval]", "p", "seeds", "claim");
    o += line;
    for (const analysis::ClaimResult& c : claims) {
        std::string effect = "-", seeds = "-";
        if (c.tests.size() == 1 && c.verdict != analysis::Verdict::not_testable) {
            const analysis::ClaimTest& t = c.tests.front();
            effect = number_text(t.effect, "%.3g") + " [" + number_text(t.effect_low, "%.3g") +
                     ", " + number_text(t.effect_high, "%.3g") + "]";
        }
        if (!c.tests.empty() && c.min_seeds > 0)
            seeds = std::to_string(c.tests.front().seeds) + " (" + std::to_string(c.min_seeds) + ")";
        const std::string p =
            c.verdict == analysis::Verdict::not_testable ? "-" : number_text(c.p_value, "%.2g");
        std::snprintf(line, sizeof line, "%-3d %-13s %-22s %-8s %-9s %s", c.number,
                      analysis::verdict_name(c.verdict), effect.c_str(), p.c_str(), seeds.c_str(),
                      c.statement.c_str());
        o += line;
        if (c.verdict == analysis::Verdict::not_testable && !c.reason.empty()) o += " [" + c.reason + "]";
        o += "\n";
    }
    o += "(seeds: used (needed); effect: mean over seeds of the within-seed Spearman rho for a "
         "trend, of the paired difference for a comparison)\n";
    return o;
}

namespace {

// The demo's runs, on the CPU as one worker process per core (experiments/sweep_processes.h: two
// one-thread runs side by side beat one two-thread run on these small products), on a GPU in
// this process. Returns the signal that stopped it, or 0.
int train_demo_runs(const SweepConfig& config, const std::string& out_dir, Device device) {
    const int workers = device == Device::CPU ? omp_get_max_threads() : 1;
    if (workers <= 1) {
        SweepOptions options;
        options.show_progress = ProgressBar::stderr_is_terminal();
        return run_sweep(config, out_dir, options).stopped_by;
    }
    const std::vector<SweepRun> runs = prepare_sweep_dir(config, out_dir);
    const ProcessSweepResult result = run_sweep_in_processes(out_dir, runs, workers);
    {
        PhaseProgress shown("sweep: summary and report", 2, "files");
        publish_summary(out_dir, true);
        shown.advance(2);
    }
    if (result.stopped_by != 0) {
        std::fprintf(stderr, "demo stopped by %s; rerun the same command to continue it\n",
                     signal_name(result.stopped_by));
        return result.stopped_by;
    }
    KELVIN_CHECK(result.failed.empty(),
                 std::to_string(result.failed.size()) + " of " + std::to_string(runs.size()) +
                     " runs failed (their logs are in " + out_dir +
                     "/logs/); rerun the same command to retry them");
    return 0;
}

}  // namespace

int run_demo(const std::string& out_dir, Device device, int seeds) {
    const SweepConfig config = demo_config(device, seeds);
    const int workers = device == Device::CPU ? omp_get_max_threads() : 1;
    std::fprintf(stderr,
                 "kelvin demo: %s on Fashion-MNIST classes 0-4, OOD set classes 5-9, T in {1, 10, "
                 "100}, seeds 1-%d, %s%s -> %s\n",
                 device == Device::CUDA ? "MLP (6 x 512), VGG-11-BN, ResNet-18, ViT"
                                        : "MLP (6 layers, width 512)",
                 seeds, device_name(device),
                 workers > 1 ? (", " + std::to_string(workers) + " runs at a time").c_str() : "",
                 out_dir.c_str());
    if (train_demo_runs(config, out_dir, device) != 0) return 1;  // the caller exits 128 + signal
    std::printf("%s", demo_tables(out_dir).c_str());
    namespace fs = std::filesystem;
    std::printf("\nper run:  %s\nper cell: %s\nclaims:   %s\nreport:   %s\n",
                (fs::path(out_dir) / "summary.md").c_str(),
                (fs::path(out_dir) / "summary_by_cell.md").c_str(),
                (fs::path(out_dir) / "claims.json").c_str(),
                (fs::path(out_dir) / "report.html").c_str());
    return 0;
}

}  // namespace kelvin::experiments
