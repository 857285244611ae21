// engine/phase_progress: a bar with elapsed time and an estimate on a terminal, one plain line
// per phase otherwise.
#include <doctest/doctest.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "engine/phase_progress.h"

using namespace kelvin;

namespace {
// Runs f with a memory stream standing for stderr and returns what was written.
template <class F>
std::string written(F&& f) {
    char* buffer = nullptr;
    size_t size = 0;
    std::FILE* out = open_memstream(&buffer, &size);
    f(out);
    std::fclose(out);
    std::string text(buffer, size);
    std::free(buffer);
    return text;
}
}  // namespace

TEST_CASE("phase progress: durations and the estimate of what remains") {
    CHECK(format_duration(7.4) == "0:07");
    CHECK(format_duration(723) == "12:03");
    CHECK(format_duration(3723) == "1:02:03");
    CHECK(estimate_remaining(12.0, 40, 100) == doctest::Approx(18.0));
    CHECK(estimate_remaining(12.0, 0, 100) < 0);   // nothing done: no estimate
    CHECK(estimate_remaining(12.0, 5, 0) < 0);     // total unknown
}

TEST_CASE("phase progress: one plain line per phase when the output is not a terminal") {
    const std::string text = written([](std::FILE* out) {
        PhaseProgress p("evaluation at initialisation", 100, "batches", out, PhaseProgress::Style::plain);
        for (int i = 1; i <= 100; ++i) p.advance(i);
    });
    CHECK(text == "evaluation at initialisation: 100 batches in 0:00\n");
}

TEST_CASE("phase progress: a bar with counts, elapsed time and an estimate on a terminal") {
    const std::string text = written([](std::FILE* out) {
        PhaseProgress p("probes", 4, "layers", out, PhaseProgress::Style::bar);
        p.advance(1);
        p.finish();
        p.finish();  // once only
    });
    CHECK(text.find("\r\033[Kprobes [#####...............] 1/4 layers  0:00 elapsed, ~0:00 left") == 0);
    CHECK(text.find("\r\033[Kprobes: 1 layers in 0:00\n") != std::string::npos);
    CHECK(text.find("probes: 1 layers") == text.rfind("probes: 1 layers"));
}
