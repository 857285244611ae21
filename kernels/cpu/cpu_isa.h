// Which instruction set the CPU kernels that have per-ISA variants run on (today the
// convolutions: kernels/cpu/conv_isa.h). One portable binary carries every variant; the best
// one this CPU executes is chosen once, at the first call, unless KELVIN_CPU_ISA forces one:
//     KELVIN_CPU_ISA=avx512 | avx2 | generic   (unset, empty or "auto": the best available)
// Forcing a path this CPU cannot run is an error, never a silent fallback. docs/KERNELS-conv.md
// ("Instruction sets") says how the variants are built and kept apart.
#pragma once

#include <string>
#include <vector>

namespace kelvin::cpu {

enum class Isa {
    kGeneric,  // no extension beyond the architecture's baseline (x86-64: SSE2; aarch64: NEON)
    kAvx2,     // x86-64-v3: AVX2, FMA, BMI, F16C
    kAvx512,   // x86-64-v4: AVX-512 F, BW, CD, DQ, VL
};

// "generic", "avx2", "avx512": the names KELVIN_CPU_ISA takes.
const char* isa_name(Isa isa);

// Whether this binary has the variant and this CPU (and OS) executes its instructions.
bool can_run(Isa isa);

// Every variant can_run says yes to, from the baseline up.
std::vector<Isa> runnable_isas();

// The variant the kernels use, chosen once: KELVIN_CPU_ISA if set, else the widest runnable.
// Throws std::invalid_argument naming the variable, its value and the choices when the value is
// unknown or names a variant this CPU cannot run.
Isa active_isa();

// Reads a KELVIN_CPU_ISA value (the same rules as active_isa; exposed for tests).
Isa isa_from_setting(const std::string& value);

}  // namespace kelvin::cpu

// The variants' tables name their instruction set with this (KELVIN_ISA is a bare token).
#define KELVIN_STRINGIFY_(x) #x
#define KELVIN_STRINGIFY(x) KELVIN_STRINGIFY_(x)
