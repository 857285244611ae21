// nlohmann::json's messages begin with "[json.exception.type_error.302] ": text about the
// library, not the user's file. These helpers keep the part a user can act on.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "engine/paths.h"

namespace kelvin {

// The exception's message without its "[json.exception.<kind>.<id>] " prefix. A parse error
// quotes the bytes it read, which need not be UTF-8: they are escaped, so the message can be
// printed and stored in JSON (a run's metrics.json records its error).
inline std::string json_error_text(const nlohmann::json::exception& e) {
    const std::string text = e.what();
    const size_t end = text.rfind("] ", text.find(' '));
    return printable(text.rfind("[json.exception.", 0) == 0 && end != std::string::npos ? text.substr(end + 2)
                                                                                      : text);
}

// The name of a JSON value's type, as a message says it: "a string", "an array", ...
inline std::string json_type_phrase(const nlohmann::json& v) {
    switch (v.type()) {
        case nlohmann::json::value_t::null: return "null";
        case nlohmann::json::value_t::object: return "an object";
        case nlohmann::json::value_t::array: return "an array";
        case nlohmann::json::value_t::string: return "a string";
        case nlohmann::json::value_t::boolean: return "a boolean";
        case nlohmann::json::value_t::number_float: return "a number with a fraction";
        case nlohmann::json::value_t::binary: return "binary data";
        default: return v.is_number_unsigned() || v.is_number_integer() ? "an integer" : "a value";
    }
}

}  // namespace kelvin
