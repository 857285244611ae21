// What the tests read back from the files kelvin writes (JSON records and exact bytes), and the
// files they write for it to read (hand-made or edited records).
#pragma once

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

namespace kelvin::testing {

inline nlohmann::json read_json(const std::filesystem::path& p) {
    std::ifstream in(p);
    return nlohmann::json::parse(in);
}

// The file's bytes, for bitwise comparisons of checkpoints and pages.
inline std::string read_bytes(const std::filesystem::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

inline std::string read_text(const std::filesystem::path& p) { return read_bytes(p); }

// Writes `text` to p, creating its folders.
inline void write_text(const std::filesystem::path& p, const std::string& text) {
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
}

inline void write_json(const std::filesystem::path& p, const nlohmann::json& j) {
    write_text(p, j.dump(2));
}

}  // namespace kelvin::testing
