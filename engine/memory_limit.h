// How much host memory one allocation may take. An absurd size (a width of 10^6, a corrupt
// header, an image that claims 60000x60000 pixels) is refused before it is allocated, with the
// number of bytes it would take, instead of std::bad_alloc or a machine swapping until the
// OOM killer ends the run.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace kelvin {

// The memory this process may use: physical memory, lowered by a cgroup limit (a Slurm job, a
// container) and by set_host_memory_limit.
uint64_t host_memory_limit();
// Lowers the limit for this process (0: back to the machine's); fuzzers and tests use it.
void set_host_memory_limit(uint64_t bytes);

// Throws kelvin::Error "<what> needs N bytes (X GiB)[, with Z GiB already held by kelvin's
// tensors], more than the Y GiB this process may use (<why>)" when `bytes` + `in_use` exceeds
// host_memory_limit(). Counting what is held catches a model too large as a whole (a depth of
// 1000 at width 4096) whose tensors each fit.
void check_host_allocation(uint64_t bytes, const std::string& what, uint64_t in_use = 0);

// a * b, or nullopt when the product does not fit in 64 bits.
std::optional<uint64_t> checked_product(uint64_t a, uint64_t b);

// "1.5 GiB", "512 KiB", "12 bytes".
std::string format_bytes(uint64_t bytes);

}  // namespace kelvin
