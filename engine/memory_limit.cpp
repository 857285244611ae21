#include "engine/memory_limit.h"

#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <fstream>

#include "engine/device.h"

namespace kelvin {

namespace {

std::atomic<uint64_t> g_override{0};

// A cgroup's memory limit (v2 memory.max, else v1 memory.limit_in_bytes), or 0 when none.
uint64_t cgroup_limit() {
    for (const char* path : {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
        std::ifstream in(path);
        std::string text;
        if (!(in >> text) || text == "max") continue;
        try {
            return std::stoull(text);
        } catch (const std::exception&) {
            continue;  // an unreadable value: no limit known
        }
    }
    return 0;
}

uint64_t physical_memory() {
    const long pages = ::sysconf(_SC_PHYS_PAGES), page = ::sysconf(_SC_PAGESIZE);
    return pages > 0 && page > 0 ? static_cast<uint64_t>(pages) * static_cast<uint64_t>(page) : 0;
}

struct Limit {
    uint64_t bytes;
    const char* why;
};

Limit current_limit() {
    static const uint64_t physical = physical_memory(), cgroup = cgroup_limit();
    Limit limit{physical, "the machine's physical memory"};
    if (limit.bytes == 0) limit = {UINT64_MAX, "no limit known"};
    if (cgroup != 0 && cgroup < limit.bytes) limit = {cgroup, "the cgroup memory limit of this job"};
    const uint64_t forced = g_override.load();
    if (forced != 0 && forced < limit.bytes) limit = {forced, "the limit set for this process"};
    return limit;
}

}  // namespace

uint64_t host_memory_limit() { return current_limit().bytes; }

void set_host_memory_limit(uint64_t bytes) { g_override.store(bytes); }

void check_host_allocation(uint64_t bytes, const std::string& what, uint64_t in_use) {
    const Limit limit = current_limit();
    if (bytes <= limit.bytes && in_use <= limit.bytes - bytes) return;
    const std::string held =
        in_use > 0 ? ", with " + format_bytes(in_use) + " already held by kelvin's tensors" : "";
    throw Error(what + " needs " + std::to_string(bytes) + " bytes (" + format_bytes(bytes) + ")" +
                held + ", more than the " + format_bytes(limit.bytes) + " this process may use (" +
                limit.why + ")");
}

std::optional<uint64_t> checked_product(uint64_t a, uint64_t b) {
    uint64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product)) return std::nullopt;
    return product;
}

std::string format_bytes(uint64_t bytes) {
    const char* units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = static_cast<double>(bytes);
    int unit = 0;
    while (value >= 1024.0 && unit < 6) {
        value /= 1024.0;
        ++unit;
    }
    char text[32];
    if (unit == 0)
        std::snprintf(text, sizeof text, "%llu bytes", static_cast<unsigned long long>(bytes));
    else
        std::snprintf(text, sizeof text, "%.1f %s", value, units[unit]);
    return text;
}

}  // namespace kelvin
