// How the report's page writes numbers and table cells: "\u2014" (a dash) for a value that is
// missing or not finite, three significant digits where a person reads them.
#pragma once

#include <limits>
#include <string>

namespace kelvin::experiments::report {

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// printf of v with `pattern`, or a dash when v is not finite.
std::string format(const char* pattern, double v);
std::string g(double v);       // %g
std::string sig3(double v);    // %.3g
std::string fixed3(double v);  // %.3f
// A <td> of the escaped value, class `cls` (and "na" when the value is a dash).
std::string cell(const std::string& value, const std::string& cls = "");
std::string or_dash(const std::string& s);
// "2026-12-02 07:30 UTC"
std::string utc_now();

}  // namespace kelvin::experiments::report
