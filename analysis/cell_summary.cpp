#include "analysis/cell_summary.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <tuple>

#include "engine/device.h"  // KELVIN_CHECK

namespace kelvin::analysis {
namespace {

std::string number(double v, int digits = 10) {
    if (!std::isfinite(v)) return "";
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    return buf;
}

std::string csv_field(const std::string& s) {
    if (s.find_first_of(",\"\n") == std::string::npos) return s;
    std::string out = "\"";
    for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
    return out + "\"";
}

std::vector<std::string> result_names(const std::vector<CellSummary>& cells) {
    std::set<std::string> names;
    for (const CellSummary& c : cells)
        for (const auto& [name, s] : c.results) names.insert(name);
    return {names.begin(), names.end()};
}

std::vector<std::string> other_keys(const std::vector<CellSummary>& cells) {
    std::set<std::string> keys;
    for (const CellSummary& c : cells)
        for (const auto& [key, value] : c.cell.other) keys.insert(key);
    return {keys.begin(), keys.end()};
}

// The settings columns of a cell, in the header's order.
std::vector<std::string> settings_fields(const CellSummary& c, const std::vector<std::string>& keys) {
    std::vector<std::string> fields;
    for (const std::string& k : keys) {
        auto it = c.cell.other.find(k);
        fields.push_back(it == c.cell.other.end() ? "" : it->second);
    }
    fields.push_back(c.cell.head_norm);
    fields.push_back(number(c.cell.init_scale));
    fields.push_back(number(c.cell.temperature));
    std::string seeds;
    for (uint64_t s : c.seeds) seeds += (seeds.empty() ? "" : " ") + std::to_string(s);
    fields.push_back(seeds);
    return fields;
}

}  // namespace

bool CellKey::operator<(const CellKey& o) const {
    return std::tie(other, head_norm, init_scale, temperature) <
           std::tie(o.other, o.head_norm, o.init_scale, o.temperature);
}

CellKey cell_of(const RunResults& run) {
    return {run.temperature, run.init_scale, run.head_norm, run.other};
}

std::vector<CellSummary> summarize_by_cell(const std::vector<RunResults>& runs, double level) {
    std::map<CellKey, std::vector<const RunResults*>> groups;
    for (const RunResults& r : runs) groups[cell_of(r)].push_back(&r);
    std::vector<CellSummary> cells;
    for (auto& [key, members] : groups) {
        std::sort(members.begin(), members.end(),
                  [](const RunResults* a, const RunResults* b) { return a->seed < b->seed; });
        CellSummary cell;
        cell.cell = key;
        std::map<std::string, std::vector<double>> values;
        for (const RunResults* r : members) {
            KELVIN_CHECK(cell.seeds.empty() || cell.seeds.back() != r->seed,
                         "summarize_by_cell: runs " + cell.runs.back() + " and " + r->id +
                             " have the same settings and seed " + std::to_string(r->seed));
            cell.seeds.push_back(r->seed);
            cell.runs.push_back(r->id);
            for (const auto& [name, v] : r->results) values[name].push_back(v);
        }
        for (const auto& [name, v] : values) cell.results[name] = summarize(v, level);
        cells.push_back(std::move(cell));
    }
    return cells;
}

std::string cells_csv(const std::vector<CellSummary>& cells) {
    const std::vector<std::string> keys = other_keys(cells), names = result_names(cells);
    std::vector<std::string> header = keys;
    for (const char* k : {"head_norm", "init_scale", "temperature", "seeds"}) header.push_back(k);
    for (const std::string& n : names)
        for (const char* stat : {"n", "mean", "sd", "ci95_low", "ci95_high"})
            header.push_back(std::string(stat) + "(" + n + ")");
    std::string out;
    auto write_row = [&out](const std::vector<std::string>& fields) {
        for (size_t i = 0; i < fields.size(); ++i) out += (i ? "," : "") + csv_field(fields[i]);
        out += "\n";
    };
    write_row(header);
    for (const CellSummary& c : cells) {
        std::vector<std::string> row = settings_fields(c, keys);
        for (const std::string& n : names) {
            auto it = c.results.find(n);
            if (it == c.results.end()) {
                row.insert(row.end(), 5, "");
                continue;
            }
            const SeedSummary& s = it->second;
            for (std::string v : {std::to_string(s.n), number(s.mean), number(s.sd),
                                  number(s.ci_low), number(s.ci_high)})
                row.push_back(v);
        }
        write_row(row);
    }
    return out;
}

std::string cells_markdown(const std::vector<CellSummary>& cells, const std::vector<std::string>& results) {
    const std::vector<std::string> keys = other_keys(cells);
    const std::vector<std::string> names = results.empty() ? result_names(cells) : results;
    std::vector<std::string> header = keys;
    for (const char* k : {"head_norm", "init_scale", "T", "seeds"}) header.push_back(k);
    header.insert(header.end(), names.begin(), names.end());
    std::string out = "|";
    for (const std::string& h : header) out += " " + h + " |";
    out += "\n|";
    for (size_t i = 0; i < header.size(); ++i) out += "---|";
    out += "\n";
    for (const CellSummary& c : cells) {
        out += "|";
        for (const std::string& f : settings_fields(c, keys)) out += " " + f + " |";
        for (const std::string& n : names) {
            auto it = c.results.find(n);
            std::string entry;
            if (it != c.results.end() && it->second.n > 0) {
                const SeedSummary& s = it->second;
                entry = number(s.mean, 4) + (s.n >= 2 ? " [" + number(s.ci_low, 4) + ", " +
                                                            number(s.ci_high, 4) + "] (" +
                                                            std::to_string(s.n) + ")"
                                                      : " (n=1)");
            }
            out += " " + entry + " |";
        }
        out += "\n";
    }
    return out;
}

}  // namespace kelvin::analysis
