#include "experiments/sweep.h"

#include "engine/json_errors.h"
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <sstream>
#include <type_traits>

#include "data/dataset_spec.h"
#include "engine/checkpoint.h"
#include "experiments/report.h"
#include "models/registry.h"

namespace kelvin::experiments {

using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {

const std::vector<std::string> kAllowedKeys = {
    "models", "datasets", "ood", "temperatures", "init_scales", "head_norms", "seeds",
    "epochs", "batch_size", "lr", "optimizer", "momentum", "weight_decay", "schedule",
    "warmup_epochs", "device", "max_steps", "train_subset", "eval_batch_size", "depth", "width",
    "activation", "norm", "base_width", "stem", "patch", "vit_width", "vit_depth", "vit_heads",
    "vit_mlp_ratio", "vit_dropout", "data_dir", "ood_data_dir", "diagnose", "samples",
    "probe_train_samples", "probe_epochs", "probe_lr", "neco_dim", "gamma", "crop_padding", "flip",
    "track_every", "track_samples"};
const std::vector<std::string> kHeadNorms = {"none", "layernorm", "normalized_logits"};

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
    return out;
}

std::string format_number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

// `v` as a T. Integers must be written as integers that fit: nlohmann's get<int> would truncate
// an epochs of 2.5 and wrap a seed of -1 into 18446744073709551615 without a word.
template <typename T>
bool read_value(const json& v, T& out) {
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
        // Parsed text holds non-negative integers as unsigned, a json built in C++ as signed.
        if (!v.is_number_integer()) return false;
        const bool negative = !v.is_number_unsigned() && v.get<int64_t>() < 0;
        const bool fits =
            negative ? std::is_signed_v<T> &&
                           v.get<int64_t>() >= static_cast<int64_t>(std::numeric_limits<T>::min())
                     : v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<T>::max());
        if (fits) out = v.get<T>();
        return fits;
    } else {
        try {
            out = v.get<T>();
            return true;
        } catch (const json::exception&) {
            return false;
        }
    }
}

// A list-valued key; a single value is accepted as a one-element list.
template <typename T>
std::vector<T> read_list(const json& j, const std::string& key, const std::string& source,
                         const char* what) {
    const json& value = j.at(key);
    json items = value.is_array() ? value : json::array({value});
    KELVIN_CHECK(!items.empty(), source + ": '" + key + "' is empty; give at least one " + what);
    std::vector<T> out;
    for (size_t i = 0; i < items.size(); ++i) {
        T item{};
        if (!read_value(items[i], item))
            throw Error(source + ": " + key + "[" + std::to_string(i) + "] = " + items[i].dump() +
                        ": expected " + what);
        out.push_back(item);
    }
    return out;
}

template <typename T>
void read_scalar(const json& j, const std::string& key, T& field, const std::string& source,
                 const char* what) {
    if (!j.contains(key)) return;
    if (!read_value(j.at(key), field))
        throw Error(source + ": '" + key + "' = " + j.at(key).dump() + ": expected " + what);
}

std::string sanitize(const std::string& text) {
    std::string out;
    for (char c : text) out += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.') ? c : '-';
    return out;
}

json read_json(const fs::path& path) {
    std::ifstream in(path);
    KELVIN_CHECK(in.good(), "cannot read " + path.string());
    try {
        return json::parse(in);
    } catch (const json::exception& e) {
        throw Error(path.string() + ": " + json_error_text(e));
    }
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

// A value as text: full precision for the CSV, 4 significant digits for the table a person reads.
std::string cell(const json& v, bool readable) {
    if (v.is_null()) return "";
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number_float() && readable) {
        char text[32];
        std::snprintf(text, sizeof text, "%.4g", v.get<double>());
        return text;
    }
    return v.dump();
}

// A rerun may grow the grid (more models, temperatures, seeds), but the runs it keeps were
// trained and diagnosed with the settings in `path`: other settings would put runs made two
// ways under one sweep.json and one summary. Where and device may change; keys `previous`
// lacks (written by an older kelvin) are not compared.
void check_same_settings(const json& previous, const json& now, const fs::path& path) {
    std::vector<std::string> changed;
    auto describe = [](const std::string& key, const json& a, const json& b) {
        return key + " " + (a.is_null() ? "(none)" : a.dump()) + " -> " +
               (b.is_null() ? "(none)" : b.dump());
    };
    if (previous.value("ood", json::array()) != now.value("ood", json::array()))
        changed.push_back(describe("ood", previous.value("ood", json()), now.value("ood", json())));
    const json a = previous.flatten(), b = now.flatten();
    for (auto& [pointer, value] : a.items()) {
        const bool shared = pointer.rfind("/training/", 0) == 0 ||
                            pointer.rfind("/diagnostics/", 0) == 0 || pointer == "/diagnose";
        if (!shared || pointer == "/training/device" || pointer == "/training/data_dir") continue;
        const json other = b.contains(pointer) ? b.at(pointer) : json();
        if (value != other) changed.push_back(describe(pointer.substr(1), value, other));
    }
    KELVIN_CHECK(changed.empty(), path.string() + ": this folder holds a sweep made with other " +
                                      "settings (" + join(changed) +
                                      "); use another --out, or the settings of that sweep");
}

}  // namespace

SweepConfig parse_sweep_config(const json& j, const std::string& source) {
    KELVIN_CHECK(j.is_object(), source + ": expected a JSON object at the top level");
    for (auto& [key, value] : j.items())
        KELVIN_CHECK(std::find(kAllowedKeys.begin(), kAllowedKeys.end(), key) != kAllowedKeys.end(),
                     source + ": unknown key '" + key + "'; allowed keys: " + join(kAllowedKeys));
    SweepConfig c;
    TrainConfig& t = c.train;
    if (j.contains("models")) c.models = read_list<std::string>(j, "models", source, "a model name");
    if (j.contains("datasets"))
        c.datasets = read_list<std::string>(j, "datasets", source, "a data set spec");
    if (j.contains("ood")) c.ood = read_list<std::string>(j, "ood", source, "a data set spec");
    if (j.contains("temperatures"))
        c.temperatures = read_list<float>(j, "temperatures", source, "a number");
    if (j.contains("init_scales"))
        c.init_scales = read_list<float>(j, "init_scales", source, "a number");
    if (j.contains("head_norms"))
        c.head_norms = read_list<std::string>(j, "head_norms", source, "a string");
    if (j.contains("seeds")) c.seeds = read_list<uint64_t>(j, "seeds", source, "a non-negative integer");
    read_scalar(j, "epochs", t.epochs, source, "an integer");
    read_scalar(j, "batch_size", t.batch_size, source, "an integer");
    read_scalar(j, "lr", t.lr, source, "a number");
    read_scalar(j, "optimizer", t.optimizer, source, "sgd or adamw");
    read_scalar(j, "momentum", t.momentum, source, "a number");
    read_scalar(j, "weight_decay", t.weight_decay, source, "a number");
    read_scalar(j, "schedule", t.schedule, source, "constant, step or cosine");
    read_scalar(j, "warmup_epochs", t.warmup_epochs, source, "a number");
    read_scalar(j, "device", t.device, source, "cpu or cuda");
    read_scalar(j, "max_steps", t.max_steps, source, "an integer");
    read_scalar(j, "train_subset", t.train_subset, source, "an integer");
    read_scalar(j, "eval_batch_size", t.eval_batch_size, source, "an integer");
    read_scalar(j, "crop_padding", t.crop_padding, source, "an integer");
    read_scalar(j, "flip", t.horizontal_flip, source, "true or false");
    read_scalar(j, "track_every", t.track_every, source, "an integer");
    read_scalar(j, "track_samples", t.track_samples, source, "an integer");
    read_scalar(j, "depth", t.model_options.depth, source, "an integer");
    read_scalar(j, "width", t.model_options.width, source, "an integer");
    read_scalar(j, "activation", t.model_options.activation, source, "relu or gelu");
    read_scalar(j, "norm", t.model_options.norm, source, "none, batchnorm or layernorm");
    read_scalar(j, "base_width", t.model_options.base_width, source, "an integer");
    read_scalar(j, "stem", t.model_options.stem, source, "cifar or imagenet");
    read_scalar(j, "patch", t.model_options.patch, source, "an integer");
    read_scalar(j, "vit_width", t.model_options.vit_width, source, "an integer");
    read_scalar(j, "vit_depth", t.model_options.vit_depth, source, "an integer");
    read_scalar(j, "vit_heads", t.model_options.vit_heads, source, "an integer");
    read_scalar(j, "vit_mlp_ratio", t.model_options.vit_mlp_ratio, source, "a number");
    read_scalar(j, "vit_dropout", t.model_options.vit_dropout, source, "a number");
    read_scalar(j, "data_dir", t.data_dir, source, "a path");
    auto& d = c.diagnose_options;
    read_scalar(j, "ood_data_dir", d.ood_data_dir, source, "a path");
    read_scalar(j, "diagnose", c.diagnose, source, "true or false");
    read_scalar(j, "samples", d.max_samples, source, "an integer");
    read_scalar(j, "probe_train_samples", d.probe_train_samples, source, "an integer");
    read_scalar(j, "probe_epochs", d.probe.epochs, source, "an integer");
    read_scalar(j, "probe_lr", d.probe.lr, source, "a number");
    read_scalar(j, "neco_dim", d.neco_dim, source, "an integer");
    read_scalar(j, "gamma", d.gamma, source, "a number");
    d.ood = c.ood;

    // Values: every error names the key and what is allowed.
    const std::vector<std::string> models = models::model_names();
    for (size_t i = 0; i < c.models.size(); ++i)
        KELVIN_CHECK(std::find(models.begin(), models.end(), c.models[i]) != models.end(),
                     source + ": models[" + std::to_string(i) + "] = '" + c.models[i] +
                         "': unknown model; allowed: " + join(models));
    for (size_t i = 0; i < c.temperatures.size(); ++i)
        KELVIN_CHECK(c.temperatures[i] > 0 && std::isfinite(c.temperatures[i]),
                     source + ": temperatures[" + std::to_string(i) + "] = " +
                         format_number(c.temperatures[i]) +
                         ": a temperature must be a positive number");
    for (size_t i = 0; i < c.init_scales.size(); ++i)
        KELVIN_CHECK(c.init_scales[i] > 0 && std::isfinite(c.init_scales[i]),
                     source + ": init_scales[" + std::to_string(i) + "] = " +
                         format_number(c.init_scales[i]) + ": must be a positive number");
    for (size_t i = 0; i < c.head_norms.size(); ++i)
        KELVIN_CHECK(std::find(kHeadNorms.begin(), kHeadNorms.end(), c.head_norms[i]) != kHeadNorms.end(),
                     source + ": head_norms[" + std::to_string(i) + "] = '" + c.head_norms[i] +
                         "': allowed: " + join(kHeadNorms));
    t.out = "(sweep)";
    try {
        validate_config(t);
        validate_diagnose_options(d);
    } catch (const Error& e) {
        throw Error(source + ": " + e.what());
    }
    // Data: every set must parse and be found now, not an hour into the sweep.
    auto check_data = [&](const std::string& key, size_t i, const std::string& spec_text,
                          const std::string& dir) {
        try {
            return data::load_dataset(data::parse_dataset_spec(spec_text), dir, false);
        } catch (const Error& e) {
            throw Error(source + ": " + key + "[" + std::to_string(i) + "] = '" + spec_text +
                        "': " + e.what());
        }
    };
    for (size_t i = 0; i < c.datasets.size(); ++i) {
        const data::HostDataset set = check_data("datasets", i, c.datasets[i], t.data_dir);
        // Model options that do not fit the data (a ViT patch, a ResNet width) fail here too.
        for (size_t m = 0; m < c.models.size(); ++m) {
            TrainConfig run = t;
            run.model = c.models[m];
            run.dataset = c.datasets[i];
            try {
                build_model_for(run, set);
            } catch (const Error& e) {
                throw Error(source + ": models[" + std::to_string(m) + "] = '" + c.models[m] +
                            "' on datasets[" + std::to_string(i) + "] = '" + c.datasets[i] +
                            "': " + e.what());
            }
        }
    }
    for (size_t i = 0; i < c.ood.size(); ++i) check_data("ood", i, c.ood[i], d.ood_data_dir);
    return c;
}

SweepConfig load_sweep_config(const std::string& path) {
    KELVIN_CHECK(fs::exists(path), "sweep config " + path + " does not exist");
    return parse_sweep_config(read_json(path), path);
}

json sweep_config_to_json(const SweepConfig& c) {
    json train = config_to_json(c.train);
    train.erase("out");
    train.erase("model");
    train.erase("dataset");
    train.erase("temperature");
    train.erase("seed");
    const auto& d = c.diagnose_options;
    return {{"models", c.models},
            {"datasets", c.datasets},
            {"ood", c.ood},
            {"temperatures", c.temperatures},
            {"init_scales", c.init_scales},
            {"head_norms", c.head_norms},
            {"seeds", c.seeds},
            {"training", train},
            {"diagnose", c.diagnose},
            {"diagnostics",
             {{"samples", d.max_samples},
              {"probe_train_samples", d.probe_train_samples},
              {"probe_epochs", d.probe.epochs},
              {"probe_lr", d.probe.lr},
              {"neco_dim", d.neco_dim},
              {"gamma", d.gamma}}}};
}

std::vector<SweepRun> expand_sweep(const SweepConfig& c) {
    std::vector<SweepRun> runs;
    for (const auto& model : c.models)
        for (const auto& dataset : c.datasets)
            for (float init : c.init_scales)
                for (const auto& head : c.head_norms)
                    for (float t : c.temperatures)
                        for (uint64_t seed : c.seeds) {
                            SweepRun run;
                            run.train = c.train;
                            run.train.model = model;
                            run.train.dataset = dataset;
                            run.train.temperature = t;
                            run.train.seed = seed;
                            run.train.model_options.init_scale = init;
                            run.train.model_options.head_norm = head;
                            run.name = model + "_" + sanitize(dataset) + "_T" + format_number(t) +
                                       "_init" + format_number(init) + "_" + head + "_s" +
                                       std::to_string(seed);
                            runs.push_back(std::move(run));
                        }
    return runs;
}

json run_sweep(const SweepConfig& config, const std::string& out_dir, const SweepOptions& options) {
    const fs::path dir(out_dir), runs_dir = fs::path(out_dir) / "runs";
    const json settings = sweep_config_to_json(config);
    if (fs::exists(dir / "sweep.json"))
        check_same_settings(read_json(dir / "sweep.json"), settings, dir / "sweep.json");
    fs::create_directories(runs_dir);
    write_file_atomically((dir / "sweep.json").string(), settings.dump(2) + "\n");
    const std::vector<SweepRun> runs = expand_sweep(config);
    int failed = 0, index = 0;
    for (const SweepRun& run : runs) {
        ++index;
        const fs::path final_dir = runs_dir / run.name;
        const fs::path partial = runs_dir / (run.name + ".partial");
        const std::string tag = "[" + std::to_string(index) + "/" + std::to_string(runs.size()) + "] " + run.name;
        if (fs::exists(final_dir)) {
            std::fprintf(stderr, "%s: finished earlier, kept\n", tag.c_str());
            continue;
        }
        TrainConfig train_config = run.train;
        train_config.out = partial.string();
        TrainOptions train_options;
        train_options.show_progress = options.show_progress;
        std::string status;
        if (fs::exists(partial / "metrics.json") && fs::exists(partial / "config.json")) {
            status = read_json(partial / "metrics.json").value("status", "");
            train_options.resume = true;
            std::fprintf(stderr, "%s: resuming (%s)\n", tag.c_str(), status.c_str());
        } else {
            fs::remove_all(partial);
            std::fprintf(stderr, "%s: starting\n", tag.c_str());
        }
        try {
            json metrics = train(train_config, train_options);
            status = metrics.value("status", "");
            if (status == "complete" && config.diagnose && !fs::exists(partial / "diagnostics.json")) {
                DiagnoseOptions d = config.diagnose_options;
                d.show_progress = options.show_progress;
                diagnose(partial.string(), d);
            }
            if (status != "complete" && status != "diverged")
                throw Error("training ended with status '" + status + "'");
            // The run directory names its final place, then becomes finished in one rename.
            json cfg = read_json(partial / "config.json");
            cfg["out"] = final_dir.string();
            write_file_atomically((partial / "config.json").string(), cfg.dump(2) + "\n");
            fs::rename(partial, final_dir);
            write_summary(out_dir);
        } catch (const std::exception& e) {
            ++failed;
            std::fprintf(stderr, "%s: failed: %s (left in %s; rerun the sweep to retry)\n",
                         tag.c_str(), e.what(), partial.c_str());
        }
    }
    json rows = write_summary(out_dir);
    write_report(out_dir);
    KELVIN_CHECK(failed == 0, std::to_string(failed) + " of " + std::to_string(runs.size()) +
                                  " runs failed; rerun the same command to retry them");
    return rows;
}

json write_summary(const std::string& out_dir) {
    const fs::path runs_dir = fs::path(out_dir) / "runs";
    json rows = json::array();
    std::set<std::string> ood_sets;
    // Checked before summary.csv is written into a folder that is not a sweep's.
    KELVIN_CHECK(fs::is_directory(runs_dir),
                 "report: " + runs_dir.string() +
                     " not found (expected the output folder of `kelvin sweep`)");
    for (const auto& entry : fs::directory_iterator(runs_dir)) {
        const std::string name = entry.path().filename().string();
        if (!entry.is_directory() || entry.path().extension() == ".partial") continue;
        // A hand-edited file missing a key fails inside nlohmann with no file name.
        try {
            json cfg = read_json(entry.path() / "config.json");
            json metrics = read_json(entry.path() / "metrics.json");
            json diag = fs::exists(entry.path() / "diagnostics.json")
                            ? read_json(entry.path() / "diagnostics.json")
                            : json::object();
            json row = {{"name", name},
                        {"model", cfg.value("model", "")},
                        {"dataset", cfg.value("dataset", "")},
                        {"temperature", cfg.value("temperature", 0.0)},
                        {"init_scale", cfg["model_options"].value("init_scale", 1.0)},
                        {"head_norm", cfg["model_options"].value("head_norm", "none")},
                        {"seed", cfg.value("seed", 0)},
                        {"status", metrics.value("status", "")}};
            if (metrics.contains("final")) {
                row["test_acc"] = metrics["final"]["test_acc"];
                row["logits_norm"] = metrics["final"]["logits_norm"];
                row["logits_norm_init"] = metrics["final"]["logits_norm_init"];
                row["seconds"] = metrics["final"]["seconds"];
            }
            if (metrics.contains("diverged_at_step")) row["diverged_at_step"] = metrics["diverged_at_step"];
            if (!diag.empty()) {
                row["rank_logits"] = diag["rank"]["logits"];
                row["rank_softmax"] = diag["rank"]["softmax"];
                row["classes"] = diag["rank"]["classes"];
                row["kappa"] = diag["kappa"];
                row["seconds"] = row.value("seconds", 0.0) + diag.value("seconds", 0.0);
                for (auto& [spec, value] : diag["rho"].items()) {
                    ood_sets.insert(spec);
                    row["rho:" + spec] = value;
                    row["orthodev:" + spec] = diag["orthodev"][spec];
                    for (auto& [method, sets] : diag["ood_detection"].items()) {
                        row[method + "_auroc:" + spec] = sets[spec]["auroc"];
                        row[method + "_fpr95:" + spec] = sets[spec]["fpr95"];
                    }
                }
            }
            rows.push_back(row);
        } catch (const json::exception& e) {
            throw Error("report: " + entry.path().string() + ": " + json_error_text(e));
        }
    }
    std::sort(rows.begin(), rows.end(), [](const json& a, const json& b) {
        auto key = [](const json& r) {
            return std::make_tuple(r["model"].get<std::string>(), r["dataset"].get<std::string>(),
                                   r["init_scale"].get<double>(), r["head_norm"].get<std::string>(),
                                   r["temperature"].get<double>(), r["seed"].get<uint64_t>());
        };
        return key(a) < key(b);
    });

    std::vector<std::string> columns = {"name", "model", "dataset", "temperature", "init_scale",
                                        "head_norm", "seed", "status", "test_acc", "rank_logits",
                                        "rank_softmax", "classes", "logits_norm_init",
                                        "logits_norm", "kappa"};
    for (const auto& spec : ood_sets) {
        columns.push_back("rho:" + spec);
        for (const char* m : {"neco", "msp", "max_logit", "energy"}) {
            columns.push_back(std::string(m) + "_auroc:" + spec);
            columns.push_back(std::string(m) + "_fpr95:" + spec);
        }
        columns.push_back("orthodev:" + spec);
    }
    columns.push_back("seconds");

    std::ostringstream csv, md;
    for (size_t i = 0; i < columns.size(); ++i) csv << (i ? "," : "") << csv_field(columns[i]);
    csv << "\n";
    md << "|";
    for (const auto& c : columns) md << " " << c << " |";
    md << "\n|";
    for (size_t i = 0; i < columns.size(); ++i) md << " --- |";
    md << "\n";
    for (const json& row : rows) {
        md << "|";
        for (size_t i = 0; i < columns.size(); ++i) {
            const json v = row.contains(columns[i]) ? row[columns[i]] : json();
            csv << (i ? "," : "") << csv_field(cell(v, false));
            md << " " << cell(v, true) << " |";
        }
        csv << "\n";
        md << "\n";
    }
    write_file_atomically((fs::path(out_dir) / "summary.csv").string(), csv.str());
    write_file_atomically((fs::path(out_dir) / "summary.md").string(),
                          "# Sweep summary\n\nOne row per finished run. Ranks at gamma = 1e-3; "
                          "AUROC and FPR95 with in-distribution as the positive class.\n\n" +
                              md.str());
    return rows;
}

}  // namespace kelvin::experiments
