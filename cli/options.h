// Command-line options generated from the settings tables (experiments/settings_tables.h): one
// option per entry in the command-line scope, named by its key (`--batch-size` for batch_size),
// with the table's help text and the member's current value as the shown default.
#pragma once

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "experiments/settings.h"

namespace kelvin::cli {

template <typename Owner>
void add_setting(CLI::App& cmd, const experiments::settings::Setting<Owner>& s, Owner& owner,
                 const std::string& help) {
    namespace settings = experiments::settings;
    const std::string name = settings::flag(s.key) + (s.cli_alias.empty() ? "" : "," + s.cli_alias);
    const settings::ValueRef ref = s.ref(owner);
    if (auto* flag = std::get_if<bool*>(&ref)) {
        cmd.add_flag(name, **flag, help);
        return;
    }
    std::visit(
        [&](auto* value) {
            using T = std::remove_pointer_t<decltype(value)>;
            CLI::Option* option;
            if constexpr (std::is_arithmetic_v<T>) {
                // Numbers are read as config.json's are (settings::read_value): "-5" for an
                // unsigned seed or 2.5 for an integer is refused, never wrapped or truncated.
                option = cmd.add_option_function<std::string>(
                    name,
                    [ref, key = s.key, expected = s.expected.empty()
                                                      ? settings::expected_text(ref, s.rule)
                                                      : s.expected](const std::string& text) {
                        const nlohmann::json v = nlohmann::json::parse(text, nullptr, false);
                        if (v.is_discarded() || !v.is_number() || !settings::read_value(v, ref))
                            throw CLI::ValidationError(settings::flag(key) + " " + text +
                                                       ": expected " + expected);
                    },
                    help);
            } else {
                option = cmd.add_option(name, *value, help);
            }
            if (!settings::display(ref).empty()) option->default_str(settings::display(ref));
        },
        ref);
}

// Adds every command-line setting of `table`; with `only`, just those keys, in table order,
// and with `help` (when not empty) in place of the table's text.
template <typename Owner>
void add_settings(CLI::App& cmd, const std::vector<experiments::settings::Setting<Owner>>& table,
                  Owner& owner, const std::vector<std::string>& only = {},
                  const std::string& help = "") {
    for (const auto& s : table) {
        if (!(s.scope & experiments::settings::kCli)) continue;
        bool wanted = only.empty();
        for (const auto& key : only) wanted = wanted || key == s.key;
        if (wanted) add_setting(cmd, s, owner, help.empty() ? s.help : help);
    }
}

}  // namespace kelvin::cli
