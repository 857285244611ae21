// A run's settings, declared once. Each settings group (training, data, model, diagnose,
// sweep-only; experiments/settings_tables.h) is a table of Setting entries: the key, the member
// it sets, the help text, the validation rule and where the setting is accepted. Everything else
// is generated from the tables: the command-line options (cli/options.h; the flag is the key
// with '-' for '_'), config.json and sweep.json reading and writing, the keys a sweep accepts and
// the error messages. A setting's default is its member's initialiser in the struct (one place,
// and a struct built in C++ gets it too); --help and docs/SETTINGS.md show it from there.
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <variant>
#include <vector>

namespace kelvin::experiments::settings {

// Where a setting's value lives: one pointer per value type the tables use.
using ValueRef = std::variant<std::string*, bool*, int*, int64_t*, uint64_t*, float*, double*,
                              std::vector<std::string>*, std::vector<float>*,
                              std::vector<uint64_t>*>;

// What a valid value is. Checked by validate(); messages name the command-line flag.
struct Rule {
    enum Kind { kAny, kPositive, kNonNegative, kAtLeastOne, kOpenUnit, kHalfOpenUnit, kRange };
    Kind kind = kAny;
    double low = 0, high = 0;          // kRange: [low, high]
    std::vector<std::string> choices = {};  // a string setting: the values allowed
};

// Where a setting is accepted or written.
enum Scope : unsigned {
    kCli = 1,           // a command-line option
    kRunConfig = 2,     // read from and written to a run's config.json
    kSweep = 4,         // a key of a sweep configuration
    kSweepRecord = 8,   // written to (and compared in) a sweep folder's sweep.json
    kEverywhere = kCli | kRunConfig | kSweep | kSweepRecord,
};

template <typename Owner>
struct Setting {
    std::string key;                          // config.json / sweep.json key
    std::function<ValueRef(Owner&)> ref;      // the member it sets
    std::string help;                         // --help and docs/SETTINGS.md
    Rule rule = {};
    unsigned scope = kEverywhere;
    std::string expected = "";  // what a value is, in errors (default: from its type and rule)
    std::string old_key = "";   // the name an older config.json used; still read
    std::string cli_alias = ""; // a short flag, e.g. "-T"
};

// The command-line flag of a key: "batch_size" -> "--batch-size".
std::string flag(const std::string& key);

// ---- one value ---------------------------------------------------------------------------------
// Reads `v` into `ref`, strictly: an integer must be an integer that fits (nlohmann's get<int>
// would truncate 2.5 and wrap -1), a list accepts a single value as a one-element list. False
// when the value does not fit; a list's bad item is reported through bad_item.
bool read_value(const nlohmann::json& v, ValueRef ref, size_t* bad_item = nullptr);
// A value as JSON. A float is written as the shortest decimal that reads back as the same float
// (0.05, not 0.05000000074505806): the number the user typed.
nlohmann::json to_json(ValueRef ref);
// The shortest decimal text of a float that strtof reads back exactly.
std::string shortest_float(float value);
// "an integer", "a number", "sgd or adamw", ... for error messages.
std::string expected_text(ValueRef ref, const Rule& rule);
// The message of a value that breaks the rule, or "" when it is valid.
std::string rule_violation(ValueRef ref, const Rule& rule, const std::string& flag_name);
// The value as the help shows a default: "0.05", "cpu", "true".
std::string display(ValueRef ref);

// ---- whole tables --------------------------------------------------------------------------------
template <typename Owner>
ValueRef ref_of(const Setting<Owner>& s, const Owner& owner) {
    return s.ref(const_cast<Owner&>(owner));  // read-only by the callers that pass a const owner
}

// Sets every member whose key (or old key) is in `object`. Errors read
// "<where>'<key>' = <value>: expected <what>" (where: e.g. "sweep.json: ").
template <typename Owner>
void read_object(Owner& owner, const std::vector<Setting<Owner>>& table,
                 const nlohmann::json& object, unsigned scope, const std::string& where);

template <typename Owner>
nlohmann::json write_object(const Owner& owner, const std::vector<Setting<Owner>>& table,
                            unsigned scope) {
    nlohmann::json out = nlohmann::json::object();
    for (const auto& s : table)
        if (s.scope & scope) out[s.key] = to_json(ref_of(s, owner));
    return out;
}

// Throws kelvin::Error for the first setting (in table order) whose value breaks its rule.
template <typename Owner>
void validate(const Owner& owner, const std::vector<Setting<Owner>>& table);

template <typename Owner>
std::vector<std::string> keys(const std::vector<Setting<Owner>>& table, unsigned scope) {
    std::vector<std::string> out;
    for (const auto& s : table)
        if (s.scope & scope) out.push_back(s.key);
    return out;
}

// ---- definitions of the templates above --------------------------------------------------------
[[noreturn]] void throw_bad_value(const std::string& where, const std::string& key,
                                  const nlohmann::json& value, size_t bad_item, bool is_list,
                                  const std::string& expected);
[[noreturn]] void throw_error(const std::string& message);

template <typename Owner>
void read_object(Owner& owner, const std::vector<Setting<Owner>>& table,
                 const nlohmann::json& object, unsigned scope, const std::string& where) {
    for (const auto& s : table) {
        if (!(s.scope & scope)) continue;
        const char* key = object.contains(s.key)                             ? s.key.c_str()
                          : !s.old_key.empty() && object.contains(s.old_key) ? s.old_key.c_str()
                                                                             : nullptr;
        if (!key) continue;
        const ValueRef ref = s.ref(owner);
        size_t bad_item = SIZE_MAX;
        if (!read_value(object.at(key), ref, &bad_item))
            throw_bad_value(where, key, object.at(key), bad_item,
                            ref.index() >= 7,  // the list alternatives of ValueRef
                            s.expected.empty() ? expected_text(ref, s.rule) : s.expected);
    }
}

template <typename Owner>
void validate(const Owner& owner, const std::vector<Setting<Owner>>& table) {
    for (const auto& s : table) {
        const std::string problem = rule_violation(ref_of(s, owner), s.rule, flag(s.key));
        if (!problem.empty()) throw_error(problem);
    }
}

}  // namespace kelvin::experiments::settings
