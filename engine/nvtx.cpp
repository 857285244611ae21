#include "engine/nvtx.h"

#if KELVIN_NVTX
#include <nvtx3/nvToolsExt.h>

#include <cstdlib>
#include <cstring>

namespace kelvin::nvtx {

namespace {

bool tool_requested() {
    const char* path = std::getenv("NVTX_INJECTION64_PATH");
    return path && *path;
}

// One category per kind, so Nsight can filter ops from kernels; colours tell them apart.
struct Kind {
    const char* name;
    uint32_t category, argb;
};
constexpr Kind kKinds[] = {
    {"op", 1, 0xff4c8bf5}, {"kernel", 2, 0xff34a853}, {"step", 3, 0xfffbbc05}, {"phase", 4, 0xffea4335}};

nvtxDomainHandle_t domain() {
    static const nvtxDomainHandle_t d = [] {
        nvtxDomainHandle_t h = nvtxDomainCreateA("kelvin");
        for (const Kind& k : kKinds) nvtxDomainNameCategoryA(h, k.category, k.name);
        return h;
    }();
    return d;
}

const Kind& kind_of(const char* kind) {
    for (const Kind& k : kKinds)
        if (std::strcmp(k.name, kind) == 0) return k;
    return kKinds[0];
}

}  // namespace

const bool g_attached = tool_requested();

void push(const char* name, const char* kind) {
    const Kind& k = kind_of(kind);
    nvtxEventAttributes_t attributes = {};
    attributes.version = NVTX_VERSION;
    attributes.size = NVTX_EVENT_ATTRIB_STRUCT_SIZE;
    attributes.category = k.category;
    attributes.colorType = NVTX_COLOR_ARGB;
    attributes.color = k.argb;
    attributes.messageType = NVTX_MESSAGE_TYPE_ASCII;
    attributes.message.ascii = name;
    nvtxDomainRangePushEx(domain(), &attributes);
}

void pop() { nvtxDomainRangePop(domain()); }

}  // namespace kelvin::nvtx
#endif
