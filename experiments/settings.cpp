#include "experiments/settings.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "engine/device.h"

namespace kelvin::experiments::settings {

using json = nlohmann::json;

namespace {

template <class... Fs>
struct Overload : Fs... {
    using Fs::operator()...;
};
template <class... Fs>
Overload(Fs...) -> Overload<Fs...>;

template <typename T>
bool read_one(const json& v, T& out) {
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

template <typename T>
bool read_list(const json& v, std::vector<T>& out, size_t* bad_item) {
    const json items = v.is_array() ? v : json::array({v});
    std::vector<T> values(items.size());
    for (size_t i = 0; i < items.size(); ++i) {
        T item{};
        if (!read_one(items[i], item)) {
            if (bad_item) *bad_item = i;
            return false;
        }
        values[i] = item;
    }
    if (values.empty()) return false;  // reported as "is empty" (bad_item left unset)
    out = std::move(values);
    return true;
}

std::string join_or(const std::vector<std::string>& items) {
    std::string out;
    for (size_t i = 0; i < items.size(); ++i)
        out += (i == 0 ? "" : i + 1 == items.size() ? " or " : ", ") + items[i];
    return out;
}

// A bound as a person reads it: integers in full (2147483647, not 2.14748e+09).
std::string g(double v) {
    char text[32];
    if (v == std::floor(v) && std::fabs(v) < 1e16) std::snprintf(text, sizeof text, "%.0f", v);
    else std::snprintf(text, sizeof text, "%g", v);
    return text;
}

}  // namespace

std::string flag(const std::string& key) {
    std::string out = "--" + key;
    for (char& c : out)
        if (c == '_') c = '-';
    return out;
}

std::string shortest_float(float value) {
    if (!std::isfinite(value)) return value != value ? "nan" : value > 0 ? "inf" : "-inf";
    char text[32];
    for (int digits = 1; digits <= 9; ++digits) {
        std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
        if (std::strtof(text, nullptr) == value) break;
    }
    return text;
}

bool read_value(const json& v, ValueRef ref, size_t* bad_item) {
    return std::visit(Overload{[&](auto* p) { return read_one(v, *p); },
                               [&](std::vector<std::string>* p) { return read_list(v, *p, bad_item); },
                               [&](std::vector<float>* p) { return read_list(v, *p, bad_item); },
                               [&](std::vector<uint64_t>* p) { return read_list(v, *p, bad_item); }},
                      ref);
}

json to_json(ValueRef ref) {
    auto float_json = [](float f) {
        return std::isfinite(f) ? json(std::strtod(shortest_float(f).c_str(), nullptr)) : json();
    };
    return std::visit(Overload{[](auto* p) { return json(*p); },
                               [&](float* p) { return float_json(*p); },
                               [&](std::vector<float>* p) {
                                   json out = json::array();
                                   for (float f : *p) out.push_back(float_json(f));
                                   return out;
                               }},
                      ref);
}

std::string expected_text(ValueRef ref, const Rule& rule) {
    if (!rule.choices.empty()) return join_or(rule.choices);
    // The range too, so that a value too large for the type reads as what it is.
    const std::string range =
        rule.kind == Rule::kRange ? " in [" + g(rule.low) + ", " + g(rule.high) + "]" : "";
    return std::visit(Overload{[](std::string*) { return "a string"; },
                               [](bool*) { return "true or false"; },
                               [](int*) { return "an integer"; },
                               [](int64_t*) { return "an integer"; },
                               [](uint64_t*) { return "a non-negative integer"; },
                               [](float*) { return "a number"; },
                               [](double*) { return "a number"; },
                               [](std::vector<std::string>*) { return "a string"; },
                               [](std::vector<float>*) { return "a number"; },
                               [](std::vector<uint64_t>*) { return "a non-negative integer"; }},
                      ref) +
           range;
}

std::string display(ValueRef ref) {
    return std::visit(
        Overload{[](std::string* p) { return *p; },
                 [](bool* p) { return std::string(*p ? "true" : "false"); },
                 [](float* p) { return shortest_float(*p); },
                 [](double* p) { return g(*p); },
                 [](std::vector<std::string>* p) {
                     std::string out;
                     for (const auto& s : *p) out += (out.empty() ? "" : ",") + s;
                     return out;
                 },
                 [](std::vector<float>* p) {
                     std::string out;
                     for (float f : *p) out += (out.empty() ? "" : ",") + shortest_float(f);
                     return out;
                 },
                 [](std::vector<uint64_t>* p) {
                     std::string out;
                     for (uint64_t v : *p) out += (out.empty() ? "" : ",") + std::to_string(v);
                     return out;
                 },
                 [](auto* p) { return std::to_string(*p); }},
        ref);
}

std::string rule_violation(ValueRef ref, const Rule& rule, const std::string& flag_name) {
    if (auto* text = std::get_if<std::string*>(&ref)) {
        if (rule.choices.empty()) return "";
        for (const auto& c : rule.choices)
            if (**text == c) return "";
        return "unknown " + flag_name + " '" + **text + "': expected " + join_or(rule.choices);
    }
    if (rule.kind == Rule::kAny) return "";
    double v = 0;
    bool numeric = std::visit(Overload{[&](int* p) { return v = *p, true; },
                                       [&](int64_t* p) { return v = double(*p), true; },
                                       [&](uint64_t* p) { return v = double(*p), true; },
                                       [&](float* p) { return v = *p, true; },
                                       [&](double* p) { return v = *p, true; },
                                       [](auto*) { return false; }},
                              ref);
    if (!numeric) return "";
    const std::string got = ", got " + display(ref);
    const bool finite = std::isfinite(v);
    switch (rule.kind) {
        case Rule::kPositive:
            return finite && v > 0 ? "" : flag_name + " must be a positive number" + got;
        case Rule::kNonNegative:
            return finite && v >= 0 ? "" : flag_name + " must be >= 0" + got;
        case Rule::kAtLeastOne:
            return v >= 1 ? "" : flag_name + " must be at least 1" + got;
        case Rule::kOpenUnit:
            return v > 0 && v < 1 ? "" : flag_name + " must be in (0, 1)" + got;
        case Rule::kHalfOpenUnit:
            return v >= 0 && v < 1 ? "" : flag_name + " must be in [0, 1)" + got;
        case Rule::kRange:
            return v >= rule.low && v <= rule.high
                       ? ""
                       : flag_name + " must be in [" + g(rule.low) + ", " + g(rule.high) + "]" + got;
        case Rule::kAny:
            break;
    }
    return "";
}

void throw_bad_value(const std::string& where, const std::string& key, const json& value,
                     size_t bad_item, bool is_list, const std::string& expected) {
    if (is_list && bad_item == SIZE_MAX)
        throw Error(where + "'" + key + "' is empty; give at least one " + expected);
    if (is_list && value.is_array())
        throw Error(where + key + "[" + std::to_string(bad_item) + "] = " +
                    value[bad_item].dump() + ": expected " + expected);
    throw Error(where + "'" + key + "' = " + value.dump() + ": expected " + expected);
}

void throw_error(const std::string& message) { throw Error(message); }

}  // namespace kelvin::experiments::settings
