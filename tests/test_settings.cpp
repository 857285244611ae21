// The settings tables (experiments/settings_tables.h) are the one declaration of every setting:
// these tests walk them and check that each setting has the same name on the command line, in
// config.json, in a sweep configuration and its sweep.json, and in docs/SETTINGS.md; and that
// the generated readers and writers keep numbers as typed and name the key of a bad value.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>

#include "engine/device.h"
#include "experiments/settings_tables.h"
#include "tests/cli_runner.h"
#include "tests/file_contents.h"

using namespace kelvin;
using namespace kelvin::experiments;
using json = nlohmann::json;
using kelvin::testing::read_text;

namespace {

// True when `help` lists `flag` as an option (followed by a space, comma or '=' as CLI11 does).
bool lists_flag(const std::string& help, const std::string& flag) {
    return std::regex_search(help, std::regex("(^|[ ,])" + flag + "([ ,=]|$)",
                                              std::regex::multiline));
}


// A sweep configuration with `key` set to its default: accepted as a key (whatever the data).
void check_sweep_accepts(const std::string& key, const json& value) {
    json j = {{key, value}};
    if (key != "datasets") j["datasets"] = {"no-such-data-set"};  // fails fast, after the keys
    try {
        parse_sweep_config(j, "sweep.json");
    } catch (const Error& e) {
        INFO("sweep key " << key);
        CHECK(std::string(e.what()).find("unknown key") == std::string::npos);
    }
}

template <typename Owner>
void check_group(const std::vector<settings::Setting<Owner>>& table, const std::string& help,
                 const json& config, const json& sweep_record, const std::string& docs) {
    const Owner defaults{};
    const std::vector<std::string> sweep_keys_now = sweep_keys();
    for (const auto& s : table) {
        INFO("setting " << s.key);
        CHECK(docs.find("| `" + s.key + "` |") != std::string::npos);
        if (s.scope & settings::kCli) CHECK(lists_flag(help, settings::flag(s.key)));
        if (s.scope & settings::kRunConfig) CHECK(config.contains(s.key));
        if (s.scope & settings::kSweepRecord) CHECK(sweep_record.contains(s.key));
        if (s.scope & settings::kSweep) {
            CHECK(std::find(sweep_keys_now.begin(), sweep_keys_now.end(), s.key) !=
                  sweep_keys_now.end());
            check_sweep_accepts(s.key, settings::to_json(settings::ref_of(s, defaults)));
        }
    }
}

}  // namespace

TEST_CASE("settings: every setting has one name in --help, config.json, sweep.json and docs") {
    const auto train_help = kelvin::testing::run_kelvin("train --help");
    const auto diagnose_help = kelvin::testing::run_kelvin("diagnose --help");
    REQUIRE(train_help.exit_code == 0);
    REQUIRE(diagnose_help.exit_code == 0);
    const std::string docs =
        read_text(std::filesystem::path(KELVIN_SOURCE_DIR) / "docs" / "SETTINGS.md");
    REQUIRE_MESSAGE(!docs.empty(), "docs/SETTINGS.md is missing");

    TrainConfig train;
    const json config = config_to_json(train);
    const json sweep = sweep_config_to_json(SweepConfig{});
    check_group(training_settings(), train_help.output, config, sweep.at("training"), docs);
    check_group(data_settings(), train_help.output, config, sweep.at("training"), docs);
    check_group(model_settings(), train_help.output, config.at("model_options"),
                sweep.at("training").at("model_options"), docs);
    check_group(diagnose_settings(), diagnose_help.output, json::object(),
                sweep.at("diagnostics"), docs);
    check_group(diagnose_settings(), train_help.output, json::object(), sweep.at("diagnostics"),
                docs);
    check_group(sweep_settings(), "", json::object(), sweep, docs);
}

TEST_CASE("settings: docs/SETTINGS.md is the tables' own text") {
    const std::filesystem::path docs = std::filesystem::path(KELVIN_SOURCE_DIR) / "docs" / "SETTINGS.md";
    const std::string generated = settings_markdown();
    if (read_text(docs) != generated) {
        const std::string fresh = std::filesystem::temp_directory_path() / "kelvin-SETTINGS.md";
        std::ofstream(fresh) << generated;
        FAIL("docs/SETTINGS.md differs from the settings tables; the generated text is in "
             << fresh << ": copy it to docs/SETTINGS.md");
    }
}

TEST_CASE("settings: config.json keeps the numbers a user typed") {
    TrainConfig c;
    c.lr = 0.05f;
    c.momentum = 0.9f;
    c.temperature = 0.1f;
    const std::string text = config_to_json(c).dump();
    CHECK(text.find("\"lr\":0.05,") != std::string::npos);
    CHECK(text.find("\"momentum\":0.9,") != std::string::npos);
    CHECK(text.find("\"temperature\":0.1,") != std::string::npos);
    // ...and reads them back as the same float32 values.
    const TrainConfig back = config_from_json(json::parse(text));
    CHECK(back.lr == c.lr);
    CHECK(back.momentum == c.momentum);
    CHECK(back.temperature == c.temperature);
    for (float f : {0.05f, 1e-3f, 3e-4f, 0.1f, 1.0f / 3.0f, 123456.7f, 1e-30f, 0.0f})
        CHECK(std::strtof(settings::shortest_float(f).c_str(), nullptr) == f);
    CHECK(settings::shortest_float(0.05f) == "0.05");
}

TEST_CASE("settings: config.json is read strictly, model_options included, naming the key") {
    json j = config_to_json(TrainConfig{});
    j["model_options"]["depth"] = "six";
    CHECK_THROWS_WITH_AS(config_from_json(j),
                         doctest::Contains("model_options: 'depth' = \"six\": expected an integer"),
                         Error);
    j = config_to_json(TrainConfig{});
    j["model_options"]["width"] = 2.5;
    CHECK_THROWS_WITH_AS(config_from_json(j), doctest::Contains("'width' = 2.5"), Error);
    j = config_to_json(TrainConfig{});
    j["epochs"] = -3.5;
    CHECK_THROWS_WITH_AS(config_from_json(j), doctest::Contains("'epochs' = -3.5: expected an integer"),
                         Error);
    j = config_to_json(TrainConfig{});
    j["lr"] = "fast";
    CHECK_THROWS_WITH_AS(config_from_json(j), doctest::Contains("'lr' = \"fast\": expected a number"),
                         Error);
}

TEST_CASE("settings: validation names the flag, the value and what is allowed") {
    TrainConfig c;
    c.out = "unused";
    c.momentum = 1.5f;
    CHECK_THROWS_WITH_AS(validate_config(c), doctest::Contains("--momentum must be in [0, 1), got 1.5"),
                         Error);
    c.momentum = 0.9f;
    c.model_options.vit_dropout = 1.0f;
    CHECK_THROWS_WITH_AS(validate_config(c),
                         doctest::Contains("--vit-dropout must be in [0, 0.99], got 1"), Error);
    c.model_options.vit_dropout = 0.0f;
    c.optimizer = "lbfgs";
    CHECK_THROWS_WITH_AS(validate_config(c),
                         doctest::Contains("unknown --optimizer 'lbfgs': expected sgd or adamw"),
                         Error);
}
