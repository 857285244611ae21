// The size the project holds its application and analysis code to (docs/DESIGN.md, "Functions a
// reader takes in at once"): no function in experiments/ or analysis/ over 80 lines, as
// scripts/function-lengths.py counts them. The script's counter is tested first on a file whose
// lengths are known, so that a counter that finds nothing cannot pass the real check.
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

#include "tests/cli_runner.h"

namespace {

kelvin::testing::CommandResult run_script(const std::string& args) {
    return kelvin::testing::run_command("python3 " + std::string(KELVIN_SOURCE_DIR) +
                                        "/scripts/function-lengths.py " + args);
}

}  // namespace

TEST_CASE("function lengths: the counter counts what a reader sees") {
    REQUIRE_MESSAGE(std::system("python3 -c '' 2>/dev/null") == 0,
                    "python3 is needed to run scripts/function-lengths.py (apt-get install python3)");
    kelvin::testing::TempDir dir("function-lengths");
    // five_lines spans 5 lines; the braces in its string, comment and lambda do not count, and
    // the struct, namespace and initializer around it are not functions.
    std::ofstream(dir.path / "sample.cpp") << "namespace a {\n"                     // 1
                                              "struct S { int x = 0; };\n"          // 2
                                              "const int k[] = {1, 2};\n"           // 3
                                              "int five_lines(int v) {\n"           // 4
                                              "    auto f = [](int y) { return y; };  // }\n"
                                              "    const char* t = \"{{\";\n"      // 6
                                              "    return f(v) + t[0];\n"            // 7
                                              "}\n"                                  // 8
                                              "void one() {}\n"                      // 9
                                              "}  // namespace a\n";
    const auto within = run_script("--max 5 " + (dir.path / "sample.cpp").string());
    CHECK_MESSAGE(within.exit_code == 0, within.output);
    CHECK(within.output.find("2 functions") != std::string::npos);
    const auto over = run_script("--max 4 " + (dir.path / "sample.cpp").string());
    CHECK(over.exit_code == 1);
    CHECK_MESSAGE(over.output.find("    5 lines") != std::string::npos, over.output);
    CHECK(over.output.find("five_lines") != std::string::npos);
}

TEST_CASE("function lengths: no function in experiments/ or analysis/ is over 80 lines") {
    const std::string root = KELVIN_SOURCE_DIR;
    const auto r = run_script("--max 80 " + root + "/experiments " + root + "/analysis");
    CHECK_MESSAGE(r.exit_code == 0, r.output);
}
