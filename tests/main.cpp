// The doctest runner for every test file in tests/. GPU tests mark themselves skipped when no
// CUDA device answers, so a CPU-only run reports them as skipped, never as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>

#include "engine/device.h"
#include "engine/runtime_settings.h"

int main(int argc, char** argv) {
    kelvin::prefer_passive_openmp_waits(argv);  // see engine/runtime_settings.h
    kelvin::flush_subnormals_to_zero();  // as the kelvin CLI does
#if KELVIN_CUDA_EMULATED
    // Not a GPU: tests/cuda_emulator runs the CUDA kernels on the host (docs/KERNELS.md).
    std::printf("kelvin tests: CUDA backend EMULATED ON THE HOST (no GPU involved)\n");
#else
    std::printf("kelvin tests: CUDA backend %s, CUDA device %s\n",
                kelvin::cuda_built() ? "built" : "not built",
                kelvin::cuda_available() ? "present" : "absent (GPU tests skipped)");
#endif
    doctest::Context context(argc, argv);
    return context.run();
}
