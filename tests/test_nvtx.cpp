// NVTX ranges (engine/nvtx.h) as an NVTX tool sees them: tests/nvtx_probe stands in for Nsight
// Systems' injection library, loaded by NVTX from NVTX_INJECTION64_PATH like Nsight's.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "engine/nvtx.h"
#include "tests/cli_runner.h"

using kelvin::testing::TempDir;

#if KELVIN_NVTX
TEST_CASE("nvtx: a bench step under an NVTX tool has balanced ranges for its step, phases, ops "
          "and kernels") {
    TempDir tmp("nvtx");
    const std::string out = tmp.str("ranges.txt");
    const std::string command = "NVTX_INJECTION64_PATH=" KELVIN_NVTX_PROBE " KELVIN_NVTX_PROBE_OUT=" +
                                out + " " KELVIN_BINARY
                                " bench --workload mlp6x1024_b128 --steps 2 --warmup 0 2>&1";
    REQUIRE(std::system(command.c_str()) == 0);
    std::ifstream in(out);
    REQUIRE_MESSAGE(in.good(), "the NVTX probe wrote nothing: was it loaded?");
    std::map<std::string, long> ranges;  // "category name" -> count
    std::string line;
    long unbalanced = -1;
    while (std::getline(in, line)) {
        std::istringstream fields(line);
        std::string first;
        fields >> first;
        if (first == "unbalanced") {
            fields >> unbalanced;
            continue;
        }
        std::string name;
        long n = 0;
        fields >> name >> n;
        ranges[first + " " + name] = n;
    }
    CHECK(unbalanced == 0);
    // Categories: 1 op, 2 kernel, 3 step, 4 phase (engine/nvtx.cpp).
    CHECK(ranges["3 train_step"] == 2);
    CHECK(ranges["4 forward"] == 2);
    CHECK(ranges["4 backward"] == 2);
    CHECK(ranges["4 optimizer"] == 2);
    CHECK(ranges["1 linear_relu"] >= 10);  // 5 hidden layers a step, forward and backward
    CHECK(ranges["2 gemm"] > 0);
    CHECK(ranges["2 sgd_step"] > 0);
    CHECK(ranges["3 sgd"] == 2);
}

TEST_CASE("nvtx: without a tool kelvin pushes no ranges") {
    // NVTX_INJECTION64_PATH is unset for the tests themselves.
    CHECK(std::getenv("NVTX_INJECTION64_PATH") == nullptr);
    CHECK_FALSE(kelvin::nvtx::attached());
}
#else
TEST_CASE("nvtx: a build without the CUDA toolkit has no NVTX ranges") {
    CHECK_FALSE(kelvin::nvtx::attached());
}
#endif
