#include "experiments/report_format.h"

#include <cmath>
#include <cstdio>
#include <ctime>

#include "experiments/svg_plot.h"

namespace kelvin::experiments::report {

using plot::escape_xml;

std::string format(const char* pattern, double v) {
    if (!std::isfinite(v)) return "\u2014";
    char buf[64];
    std::snprintf(buf, sizeof buf, pattern, v);
    return buf;
}
std::string g(double v) { return format("%g", v); }
std::string sig3(double v) { return format("%.3g", v); }
std::string fixed3(double v) { return format("%.3f", v); }

std::string cell(const std::string& value, const std::string& cls) {
    const std::string c = cls + (value == "\u2014" ? (cls.empty() ? "na" : " na") : "");
    return c.empty() ? "<td>" + escape_xml(value) + "</td>"
                     : "<td class=\"" + c + "\">" + escape_xml(value) + "</td>";
}

std::string or_dash(const std::string& s) { return s.empty() ? std::string("\u2014") : s; }

std::string utc_now() {
    std::time_t now = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&now, &tm);
    char buf[64];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M UTC", &tm);
    return buf;
}

}  // namespace kelvin::experiments::report
