// The CPU convolution kernels on every instruction set this CPU runs, against direct loops
// (tests/conv_reference.h): kernels only, no engine, so that scripts/check-aarch64.sh builds and
// runs this file for aarch64 under qemu as well.
#include <doctest/doctest.h>

#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/cpu/conv_isa.h"
#include "kernels/cpu/conv_winograd.h"
#include "tests/conv_reference.h"

using namespace kelvin;
using namespace kelvin::testing::conv_cases;

// The reference is computed once per case, then every variant is checked against it (the
// direct loops were 40% of this test's time, and under qemu most of check-cpu-isas.sh's).
TEST_CASE("conv2d: CPU forward and every backward match direct loops, on every runnable ISA") {
    uint32_t seed = 100;
    for (const ConvCase& k : kConvCases) {
        const ConvShape s = shape_of(k);
        const std::vector<float> x = random_floats(k.n * k.c * k.h * k.w, ++seed);
        const std::vector<float> w = random_floats(k.o * k.c * k.kh * k.kw, ++seed);
        const std::vector<float> b = k.bias ? random_floats(k.o, ++seed) : std::vector<float>();
        const std::vector<float> dy = random_floats(k.n * k.o * s.out_h * s.out_w, ++seed);
        const ConvReference want = conv_reference(s, x, w, b, dy);
        for (const cpu::ConvKernels* isa : runnable_conv_kernels()) {
            std::vector<float> y(dy.size(), NAN), dx(x.size(), NAN), dw(w.size(), NAN),
                db(k.o, NAN);
            isa->forward(x.data(), w.data(), k.bias ? b.data() : nullptr, y.data(), s);
            isa->backward_data(dy.data(), w.data(), dx.data(), s);
            isa->backward_weight(x.data(), dy.data(), dw.data(), s);
            isa->backward_bias(dy.data(), db.data(), s);
            const std::string where = std::string(" [") + isa->isa + "] " + label(k);
            check_close(y, want.y, "forward" + where);
            check_close(dx, want.dx, "backward data" + where);
            check_close(dw, want.dweight, "backward weight" + where);
            check_close(db, want.dbias, "backward bias" + where);
        }
    }
}

TEST_CASE("conv2d: kelvin::cpu::conv2d_* run the variant KELVIN_CPU_ISA selects") {
    const ConvShape s = shape_of({2, 5, 6, 6, 4, 3, 3, 1, 1, true});
    const std::vector<float> x = random_floats(2 * 5 * 36, 1), w = random_floats(4 * 5 * 9, 2),
                             b = random_floats(4, 3);
    std::vector<float> via_dispatch(2 * 4 * 36), via_table(2 * 4 * 36);
    cpu::conv2d_forward(x.data(), w.data(), b.data(), via_dispatch.data(), s);
    const cpu::ConvKernels* active = cpu::conv_kernels(cpu::active_isa());
    REQUIRE(active != nullptr);
    CHECK(std::string(active->isa) == cpu::isa_name(cpu::active_isa()));
    active->forward(x.data(), w.data(), b.data(), via_table.data(), s);
    CHECK(via_dispatch == via_table);  // the same code: bit for bit
    CHECK(cpu::isa_from_setting("") == cpu::runnable_isas().back());
    CHECK(cpu::isa_from_setting("generic") == cpu::Isa::kGeneric);
    CHECK_THROWS_WITH_AS(cpu::isa_from_setting("sse9"),
                         "KELVIN_CPU_ISA=sse9: unknown instruction set; expected avx512, avx2, "
                         "generic or auto",
                         std::invalid_argument);
    for (cpu::Isa isa : {cpu::Isa::kAvx2, cpu::Isa::kAvx512})
        if (!cpu::can_run(isa)) CHECK_THROWS_AS(cpu::isa_from_setting(cpu::isa_name(isa)), std::invalid_argument);
}

TEST_CASE("conv2d: the Winograd F(2x2, 3x3) kernels match direct loops, on every runnable ISA") {
    // Called directly, whatever shapes conv2d would route to them: odd and even maps (a last
    // tile half outside), 1x1 and 2x2 maps, padding 0/1/2, channel counts that leave partial
    // micro-tiles and channel blocks, several forward blocks and several weight-gradient
    // chunks (330 tiles > 256), and 200 output channels (two channel blocks of 64 in dW), and
    // enough tiles for the weight gradient's partitions.
    const std::vector<ConvCase> cases = {
        {3, 5, 7, 7, 4, 3, 3, 1, 1, true},     {2, 17, 9, 6, 13, 3, 3, 1, 0, false},
        {1, 3, 1, 1, 2, 3, 3, 1, 1, true},     {2, 4, 2, 2, 40, 3, 3, 1, 1, false},
        {2, 6, 5, 8, 7, 3, 3, 1, 2, true},     {3, 9, 20, 22, 11, 3, 3, 1, 1, true},
        {2, 40, 8, 8, 33, 3, 3, 1, 1, false},  {1, 70, 4, 4, 200, 3, 3, 1, 1, true},
        {2, 260, 4, 4, 24, 3, 3, 1, 1, false}, {4, 16, 16, 16, 16, 3, 3, 1, 1, true},
        // 2160 tiles: the weight gradient sums two partitions of 1080 (not whole chunks).
        {9, 16, 31, 30, 17, 3, 3, 1, 1, false},
    };
    for (const cpu::ConvKernels* isa : runnable_conv_kernels()) {
        uint32_t seed = 900;
        for (const ConvCase& k : cases) {
            const ConvShape s = shape_of(k);
            REQUIRE(cpu::conv_winograd::supports(s));
            const std::vector<float> x = random_floats(k.n * k.c * k.h * k.w, ++seed);
            const std::vector<float> w = random_floats(k.o * k.c * 9, ++seed);
            const std::vector<float> b = k.bias ? random_floats(k.o, ++seed) : std::vector<float>();
            const std::vector<float> dy = random_floats(k.n * k.o * s.out_h * s.out_w, ++seed);
            const ConvReference want = conv_reference(s, x, w, b, dy);
            std::vector<float> y(dy.size(), NAN), dx(x.size(), NAN), dw(w.size(), NAN);
            isa->winograd_forward(x.data(), w.data(), k.bias ? b.data() : nullptr, y.data(), s);
            isa->winograd_backward_data(dy.data(), w.data(), dx.data(), s);
            isa->winograd_backward_weight(x.data(), dy.data(), dw.data(), s);
            const std::string where = std::string(" [") + isa->isa + "] " + label(k);
            check_close(y, want.y, "winograd forward" + where);
            check_close(dx, want.dx, "winograd backward data" + where);
            check_close(dw, want.dweight, "winograd backward weight" + where);
        }
    }
    ConvShape strided = shape_of({1, 4, 8, 8, 4, 3, 3, 2, 1, false});
    CHECK(!cpu::conv_winograd::supports(strided));
    CHECK(!cpu::conv_winograd::supports(shape_of({1, 4, 8, 8, 4, 5, 5, 1, 2, false})));
}

