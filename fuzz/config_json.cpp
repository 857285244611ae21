// A run's config.json, through load_run_config (experiments/train) and validate_config, then
// written back with config_to_json.
#include "experiments/train.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    fuzz::write_file("config-run/config.json", data, size);
    fuzz::expect_kelvin_errors_only(data, size, [&] {
        const experiments::TrainConfig c =
            experiments::load_run_config((fuzz::scratch() / "config-run").string());
        experiments::validate_config(c);
        (void)experiments::config_to_json(c).dump();
    });
    return 0;
}
