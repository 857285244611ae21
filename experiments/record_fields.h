// The lenient field reads the two run-record readers share (run_metrics.cpp,
// run_diagnostics.cpp), and the writes that leave absent parts out. Only those two files include
// it: everything else reads the typed records.
#pragma once

#include <cmath>
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "experiments/run_metrics.h"  // kNoValue

namespace kelvin::experiments::record_fields {

using json = nlohmann::json;

// j[key] when j is an object holding it, else null.
inline const json& field(const json& j, const char* key) {
    static const json null;
    if (!j.is_object()) return null;
    auto it = j.find(key);
    return it == j.end() ? null : *it;
}

inline double number(const json& j, const char* key) {
    const json& v = field(j, key);
    return v.is_number() ? v.get<double>() : kNoValue;
}

// An integer, also when written as a float with an integral value (40.0, as a hand-made file may
// hold it); anything else is absent.
inline std::optional<int64_t> integer_value(const json& v) {
    if (v.is_number_integer()) return v.get<int64_t>();
    if (v.is_number_float()) {
        const double x = v.get<double>();
        if (std::isfinite(x) && x == std::floor(x) && std::fabs(x) < 9e15) return static_cast<int64_t>(x);
    }
    return std::nullopt;
}

inline std::optional<int64_t> optional_integer(const json& j, const char* key) {
    return integer_value(field(j, key));
}

inline int64_t integer(const json& j, const char* key, int64_t otherwise = 0) {
    return optional_integer(j, key).value_or(otherwise);
}

inline std::string text(const json& j, const char* key) {
    const json& v = field(j, key);
    return v.is_string() ? v.get<std::string>() : "";
}

inline std::optional<std::string> optional_text(const json& j, const char* key) {
    const json& v = field(j, key);
    return v.is_string() ? std::optional<std::string>(v.get<std::string>()) : std::nullopt;
}

inline bool flag(const json& j, const char* key) {
    const json& v = field(j, key);
    return v.is_boolean() && v.get<bool>();
}

inline std::vector<double> numbers(const json& v) {
    std::vector<double> out;
    if (v.is_array())
        for (const json& x : v) out.push_back(x.is_number() ? x.get<double>() : kNoValue);
    return out;
}

inline std::vector<std::string> texts(const json& v) {
    std::vector<std::string> out;
    if (v.is_array())
        for (const json& x : v) out.push_back(x.is_string() ? x.get<std::string>() : "");
    return out;
}

// {KEY: T} from an object of values (others skipped).
template <typename T, typename Read>
std::map<std::string, T> map_of(const json& v, Read read) {
    std::map<std::string, T> out;
    if (v.is_object())
        for (const auto& [key, value] : v.items()) out[key] = read(value);
    return out;
}

template <typename T>
void put_optional(json& j, const char* key, const std::optional<T>& value) {
    if (value) j[key] = *value;
}

}  // namespace kelvin::experiments::record_fields
