// GELU on the CPU, one variant per instruction set (kernels/cpu/cpu_isa.h), as a table of
// functions like the conv kernels' (kernels/cpu/conv_isa.h). kelvin::cpu::gelu_* (kernels/
// activation.h) forward to the table of active_isa(); tests take each runnable variant's.
// Per instruction set because GELU is 9% of a ViT step and its arithmetic vectorises: on the
// baseline's SSE2 it ran 4 lanes where AVX-512 has 16 (the ViT step 7% slower than a
// -march=native build, docs/PERFORMANCE.md).
#pragma once

#include <cstdint>

#include "kernels/cpu/cpu_isa.h"

namespace kelvin::cpu {

struct GeluKernels {
    const char* isa;  // isa_name of the variant
    void (*forward)(const float* x, float* y, int64_t n);
    void (*backward)(const float* x, const float* dy, float* dx, int64_t n);
};

// The kernels of one variant; null when this binary does not carry it.
const GeluKernels* gelu_kernels(Isa isa);

}  // namespace kelvin::cpu

// Each variant's object exports kelvin_gelu_kernels_<isa> beside kelvin_conv_kernels_<isa>.
#define KELVIN_GELU_KERNELS_ENTRY_(isa) kelvin_gelu_kernels_##isa
#define KELVIN_GELU_KERNELS_ENTRY(isa) KELVIN_GELU_KERNELS_ENTRY_(isa)
