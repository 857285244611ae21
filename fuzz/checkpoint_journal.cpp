// Crash recovery (engine/checkpoint): recover_file_group with the input as the commit journal,
// beside a staged and a committed file. Recovery must never touch a file outside its folder.
#include "engine/checkpoint.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    namespace fs = std::filesystem;
    const fs::path dir = fuzz::scratch() / "run";
    fs::remove_all(dir);
    const uint8_t text[] = "{\"epoch\": 1}\n";
    fuzz::write_file("run/metrics.json", text, sizeof text - 1);
    fuzz::write_file("run/metrics.json.kelvin-staged", text, sizeof text - 1);
    fuzz::write_file("outside.kelvin-staged", text, sizeof text - 1);
    fuzz::write_file("run/.kelvin-commit", data, size);
    fuzz::expect_kelvin_errors_only(data, size, [&] { recover_file_group(dir); });
    if (!fs::exists(fuzz::scratch() / "outside.kelvin-staged"))
        fuzz::finding("recovery moved a file outside its folder", dir.string());
    return 0;
}
