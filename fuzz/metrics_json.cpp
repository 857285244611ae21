// A finished run's metrics.json, read back by write_summary (experiments/sweep) beside a valid
// config.json, as `kelvin report` and a resumed sweep read it.
#include "experiments/sweep.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    using namespace kelvin;
    static const std::string config = experiments::config_to_json(experiments::TrainConfig{}).dump();
    fuzz::write_file("sweep-out/runs/r/config.json", reinterpret_cast<const uint8_t*>(config.data()),
                     config.size());
    fuzz::write_file("sweep-out/runs/r/metrics.json", data, size);
    fuzz::expect_kelvin_errors_only(data, size, [&] { experiments::write_summary((fuzz::scratch() / "sweep-out").string()); });
    return 0;
}
