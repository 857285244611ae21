// Runtime choice of the CPU kernels' instruction set (kernels/cpu/cpu_isa.h).
#include "kernels/cpu/cpu_isa.h"

#include <cstdlib>
#include <stdexcept>

namespace kelvin::cpu {

const char* isa_name(Isa isa) {
    switch (isa) {
        case Isa::kGeneric: return "generic";
        case Isa::kAvx2: return "avx2";
        case Isa::kAvx512: return "avx512";
    }
    return "unknown";
}

bool can_run(Isa isa) {
    if (isa == Isa::kGeneric) return true;
#if defined(__x86_64__)
    // The ISA levels are exactly the -march levels the variants are compiled for (CMakeLists.txt);
    // libgcc also checks that the OS saves the AVX / AVX-512 registers (XGETBV).
    __builtin_cpu_init();
#if defined(__clang__) && __clang_major__ < 16
    // clang 14 (the fuzz build) knows no level names: the features that define them, less
    // those every AVX2 CPU has beside AVX2 (F16C, MOVBE, LZCNT, XSAVE).
    const bool v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
                    __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
    const bool v4 = v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                    __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
                    __builtin_cpu_supports("avx512vl");
#else
    const bool v3 = __builtin_cpu_supports("x86-64-v3"), v4 = __builtin_cpu_supports("x86-64-v4");
#endif
    if (isa == Isa::kAvx2) return v3;
    if (isa == Isa::kAvx512) return v4;
#endif
    return false;  // other architectures carry only the generic variant
}

std::vector<Isa> runnable_isas() {
    std::vector<Isa> isas;
    for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512})
        if (can_run(isa)) isas.push_back(isa);
    return isas;
}

Isa isa_from_setting(const std::string& value) {
    if (value.empty() || value == "auto") return runnable_isas().back();
    for (Isa isa : {Isa::kGeneric, Isa::kAvx2, Isa::kAvx512}) {
        if (value != isa_name(isa)) continue;
        if (!can_run(isa))
            throw std::invalid_argument("KELVIN_CPU_ISA=" + value + ": this CPU (or build) cannot run the " +
                                        value + " kernels; it runs " + isa_name(runnable_isas().back()) +
                                        " and below (unset KELVIN_CPU_ISA to choose automatically)");
        return isa;
    }
    throw std::invalid_argument("KELVIN_CPU_ISA=" + value +
                                ": unknown instruction set; expected avx512, avx2, generic or auto");
}

Isa active_isa() {
    static const Isa chosen = [] {
        const char* value = std::getenv("KELVIN_CPU_ISA");
        return isa_from_setting(value ? value : "");
    }();
    return chosen;
}

}  // namespace kelvin::cpu
