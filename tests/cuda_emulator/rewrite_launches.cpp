// kelvin's CUDA emulator, build step: copies a .cu file to a .cpp file that g++ compiles,
// rewriting each `kernel<<<grid, block[, shared[, stream]]>>>(args)` launch into
// `::kelvin_emu::launch("kernel", grid, block[, shared[, stream]])(
//      [](auto&... a) { kernel(a...); }, args)`. A #line
// directive keeps compiler messages pointing into the .cu file; the rewrite keeps the line count.
//
// Usage: rewrite_launches IN.cu OUT.cpp
#include <fstream>
#include <iostream>
#include <regex>
#include <sstream>
#include <string>

int main(int argc, char** argv) {
    if (argc != 3) {
        std::cerr << "usage: rewrite_launches IN.cu OUT.cpp\n";
        return 2;
    }
    std::ifstream in(argv[1], std::ios::binary);
    if (!in) {
        std::cerr << "rewrite_launches: cannot read " << argv[1] << "\n";
        return 1;
    }
    std::stringstream text;
    text << in.rdbuf();
    const std::string source = text.str();

    // The kernel: a name with at most one level of template arguments, e.g. `kernel<kHeadDim>`.
    // The configuration: anything up to the first `>>>` (it may hold `row_grid<kHeadDim>(...)`).
    const std::regex launch(R"(([A-Za-z_]\w*(?:<[^<>;()]*>)?)(\s*)<<<([\s\S]*?)>>>(\s*)\()");
    std::string out = "#line 1 \"" + std::string(argv[1]) + "\"\n";
    size_t launches = 0;
    auto begin = std::sregex_iterator(source.begin(), source.end(), launch);
    size_t copied = 0;
    for (auto it = begin; it != std::sregex_iterator(); ++it, ++launches) {
        const std::smatch& m = *it;
        out.append(source, copied, static_cast<size_t>(m.position(0)) - copied);
        // Whitespace (newlines included) is kept so that line numbers do not move.
        const std::string kernel = m[1].str();
        copied = static_cast<size_t>(m.position(0) + m.length(0));
        const size_t next = source.find_first_not_of(" \t\r\n", copied);
        const bool no_arguments = next != std::string::npos && source[next] == ')';
        out += "::kelvin_emu::launch(\"" + kernel + "\"," + m[2].str() + m[3].str() + ")" +
               m[4].str() + "([](auto&... kelvin_emu_arguments) { " + kernel +
               "(kelvin_emu_arguments...); }" + (no_arguments ? "" : ", ");
    }
    out.append(source, copied, std::string::npos);
    if (source.find("<<<", copied) != std::string::npos || launches == 0) {
        // A launch the pattern did not understand would fail to compile later, less clearly.
        size_t left = 0;
        for (size_t at = out.find("<<<"); at != std::string::npos; at = out.find("<<<", at + 3))
            ++left;
        if (left) {
            std::cerr << "rewrite_launches: " << argv[1] << ": " << left
                      << " kernel launch(es) not rewritten\n";
            return 1;
        }
    }
    std::ofstream file(argv[2], std::ios::binary);
    file << out;
    if (!file) {
        std::cerr << "rewrite_launches: cannot write " << argv[2] << "\n";
        return 1;
    }
    return 0;
}
