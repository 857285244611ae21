// A minimal NVTX tool for tests: loaded by NVTX from NVTX_INJECTION64_PATH, as Nsight Systems'
// injection library is, it counts the ranges kelvin pushes and pops in the "kelvin" domain and
// writes "<category> <message> <count>" lines, then "unbalanced <n>", to $KELVIN_NVTX_PROBE_OUT
// at exit. Lets a test check the ranges without Nsight (tests/test_nvtx.cpp).
#include <nvtx3/nvToolsExt.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>

namespace {

struct Counts {
    std::mutex mutex;
    std::map<std::string, long> ranges;  // "category message" -> pushes
    long depth = 0;
    long pops_without_push = 0;

    ~Counts() {
        const char* path = std::getenv("KELVIN_NVTX_PROBE_OUT");
        FILE* out = path ? std::fopen(path, "w") : nullptr;
        if (!out) return;
        for (const auto& [key, n] : ranges) std::fprintf(out, "%s %ld\n", key.c_str(), n);
        std::fprintf(out, "unbalanced %ld\n", depth + pops_without_push);
        std::fclose(out);
    }
};
Counts counts;

int NVTX_API push(nvtxDomainHandle_t, const nvtxEventAttributes_t* attributes) {
    std::lock_guard<std::mutex> lock(counts.mutex);
    const char* message = attributes->messageType == NVTX_MESSAGE_TYPE_ASCII
                              ? attributes->message.ascii
                              : "?";
    ++counts.ranges[std::to_string(attributes->category) + " " + message];
    return int(++counts.depth);
}

int NVTX_API pop(nvtxDomainHandle_t) {
    std::lock_guard<std::mutex> lock(counts.mutex);
    if (counts.depth == 0) ++counts.pops_without_push;
    else --counts.depth;
    return int(counts.depth);
}

}  // namespace

extern "C" NVTX_DYNAMIC_EXPORT int InitializeInjectionNvtx2(NvtxGetExportTableFunc_t get_table) {
    const auto* callbacks =
        static_cast<const NvtxExportTableCallbacks*>(get_table(NVTX_ETID_CALLBACKS));
    if (!callbacks) return 0;
    NvtxFunctionTable table = nullptr;
    unsigned int size = 0;
    if (!callbacks->GetModuleFunctionTable(NVTX_CB_MODULE_CORE2, &table, &size) ||
        size <= NVTX_CBID_CORE2_DomainRangePop)
        return 0;
    *table[NVTX_CBID_CORE2_DomainRangePushEx] = reinterpret_cast<NvtxFunctionPointer>(&push);
    *table[NVTX_CBID_CORE2_DomainRangePop] = reinterpret_cast<NvtxFunctionPointer>(&pop);
    return 1;
}
