// A sweep.json, through load_sweep_config (experiments/sweep): keys, values, data sets (found
// or not) and models built for them, then expanded into runs.
#include "experiments/sweep.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    const std::string path = fuzz::write_file("sweep.json", data, size);
    fuzz::expect_kelvin_errors_only(data, size, [&] {
        const experiments::SweepConfig c = experiments::load_sweep_config(path);
        (void)experiments::expand_sweep(c);
        (void)experiments::sweep_config_to_json(c).dump();
    });
    return 0;
}
