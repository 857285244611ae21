// The layers the build enforces (docs/DESIGN.md, "Layers"): each layer compiles with an include
// path that shows its own folder and the folders of the layers below it, so an include of a
// layer above (or beside) it is "No such file". The flags are the ones CMake gives each layer's
// target (build/layers/<folder>.flags); the graph below is the intended one, so a CMake change
// that lets a layer see more (or less) than it should fails here.
#include <doctest/doctest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "tests/cli_runner.h"

namespace {

// One header per layer, each including nothing from the layers above it.
const std::map<std::string, std::string> kLayerHeader = {
    {"kernels", "kernels/error.h"},   {"engine", "engine/tensor.h"},
    {"models", "models/model.h"},     {"data", "data/loader.h"},
    {"analysis", "analysis/spectrum.h"}, {"experiments", "experiments/train.h"},
    {"cli", "cli/main.cpp"}};

// What each layer may include: itself and everything below it, never a sibling or above.
const std::map<std::string, std::set<std::string>> kVisible = {
    {"kernels", {"kernels"}},
    {"engine", {"kernels", "engine"}},
    {"models", {"kernels", "engine", "models"}},
    {"data", {"kernels", "engine", "data"}},
    {"analysis", {"kernels", "engine", "analysis"}},
    {"experiments", {"kernels", "engine", "models", "data", "analysis", "experiments"}},
    {"cli", {"kernels", "engine", "models", "data", "analysis", "experiments", "cli"}}};

std::string layer_flags(const std::string& layer) {
    const std::string path = std::string(KELVIN_LAYERS_DIR) + "/" + layer + ".flags";
    std::ifstream in(path);
    REQUIRE_MESSAGE(in.good(), "cannot read " << path << " (written by CMake at generate time)");
    std::string flags, line;
    while (std::getline(in, line))
        // The compiler's own /usr/include must stay last in its search order (CMake leaves it out
        // of command lines too), or libstdc++'s #include_next finds the wrong headers.
        if (line != "-I" && line != "-D" && line != "-I/usr/include") flags += " '" + line + "'";
    return flags;
}

// Preprocesses and parses `#include "header"` with the layer's flags; the compiler's output.
kelvin::testing::CommandResult compile_include(const std::string& layer, const std::string& header,
                                               const std::filesystem::path& dir) {
    const std::filesystem::path source = dir / (layer + ".cpp");
    std::ofstream(source) << "#include \"" << header << "\"\n";
    return kelvin::testing::run_command(std::string(KELVIN_CXX_COMPILER) +
                                        " -std=c++17 -fsyntax-only" + layer_flags(layer) + " " +
                                        source.string());
}

}  // namespace

TEST_CASE("layers: a layer sees the layers below it and fails to include any other") {
    kelvin::testing::TempDir dir("layers");
    for (const auto& [layer, visible] : kVisible) {
        for (const auto& [other, header] : kLayerHeader) {
            if (layer == "cli" && other == "cli") continue;  // the top: nothing includes cli/
            INFO("layer " << layer << " including " << header);
            const auto result = compile_include(layer, header, dir.path);
            if (visible.count(other)) {
                CHECK_MESSAGE(result.exit_code == 0, result.output);
            } else {
                CHECK(result.exit_code != 0);
                CHECK_MESSAGE(result.output.find(header + ": No such file") != std::string::npos,
                              result.output);
            }
        }
    }
}
