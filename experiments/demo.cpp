#include "experiments/demo.h"

#include <cstdio>
#include <filesystem>

#include "experiments/progress.h"

namespace kelvin::experiments {

using json = nlohmann::json;

SweepConfig demo_config(Device device) {
    // On a GPU the grid adds one network of every other family the paper studies.
    const json models = device == Device::CUDA ? json{"mlp", "vgg11bn", "resnet18", "vit"}
                                               : json{"mlp"};
    json j = {{"models", models},
              {"datasets", {"fashion-mnist:classes=0-4"}},
              {"ood", {"fashion-mnist:classes=5-9"}},
              {"temperatures", {1, 10, 100}},
              {"seeds", {1}},
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

int run_demo(const std::string& out_dir, Device device) {
    SweepConfig config = demo_config(device);
    SweepOptions options;
    options.show_progress = ProgressBar::stderr_is_terminal();
    std::fprintf(stderr,
                 "kelvin demo: %s on Fashion-MNIST classes 0-4, OOD set classes 5-9, T in {1, 10, "
                 "100}, %s -> %s\n",
                 device == Device::CUDA ? "MLP (6 x 512), VGG-11-BN, ResNet-18, ViT"
                                        : "MLP (6 layers, width 512)",
                 device_name(device), out_dir.c_str());
    json rows = run_sweep(config, out_dir, options).rows;
    const std::string ood = config.ood.front();
    std::printf("\n%-9s %-6s %-9s %-12s %-13s %-11s %-7s %-7s %-10s %-10s\n", "model", "T", "test_acc",
                "rank(logits)", "rank(softmax)", "logits_norm", "kappa", "rho", "NECO_AUROC",
                "MSP_AUROC");
    for (const json& r : rows) {
        auto num = [&](const std::string& key) {
            return r.contains(key) && r[key].is_number() ? r[key].get<double>() : std::nan("");
        };
        std::printf("%-9s %-6g %-9.4f %-12.0f %-13.0f %-11.3f %-7.3f %-7.3f %-10.4f %-10.4f\n",
                    r.value("model", "").c_str(), num("temperature"), num("test_acc"), num("rank_logits"), num("rank_softmax"),
                    num("logits_norm"), num("kappa"), num("rho:" + ood), num("neco_auroc:" + ood),
                    num("msp_auroc:" + ood));
    }
    namespace fs = std::filesystem;
    std::printf("\nsummary: %s\nreport:  %s\n", (fs::path(out_dir) / "summary.md").c_str(),
                (fs::path(out_dir) / "report.html").c_str());
    return 0;
}

}  // namespace kelvin::experiments
