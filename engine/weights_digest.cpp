#include "engine/weights_digest.h"

#include <algorithm>
#include <cstdint>
#include <cstdio>

namespace kelvin {

namespace {

struct Fnv1a {
    uint64_t h = 0xcbf29ce484222325ull;
    void add(const void* data, size_t bytes) {
        const auto* p = static_cast<const unsigned char*>(data);
        for (size_t i = 0; i < bytes; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
    }
    void add_u64(uint64_t v) { add(&v, sizeof v); }
};

void add_tensor(Fnv1a& f, const std::string& name, const Tensor& tensor) {
    f.add_u64(name.size());
    f.add(name.data(), name.size());
    const Tensor host = tensor.to(Device::CPU);
    f.add_u64(static_cast<uint64_t>(host.dtype()));
    f.add_u64(host.shape().size());
    for (int64_t d : host.shape()) f.add_u64(static_cast<uint64_t>(d));
    f.add(host.data<char>(), static_cast<size_t>(host.numel()) * dtype_size(host.dtype()));
}

std::string text_of(const Fnv1a& f) {
    char text[32];
    std::snprintf(text, sizeof text, "fnv1a64:%016llx", static_cast<unsigned long long>(f.h));
    return text;
}

}  // namespace

std::string weights_digest(const std::vector<NamedTensorRef>& tensors) {
    std::vector<const NamedTensorRef*> sorted;
    for (const auto& t : tensors) sorted.push_back(&t);
    std::sort(sorted.begin(), sorted.end(),
              [](const NamedTensorRef* a, const NamedTensorRef* b) { return a->name < b->name; });
    Fnv1a f;
    for (const NamedTensorRef* t : sorted) add_tensor(f, t->name, t->tensor);
    return text_of(f);
}

std::string weights_digest(const std::map<std::string, Tensor>& tensors) {
    Fnv1a f;  // a std::map is in name order already
    for (const auto& [name, tensor] : tensors) add_tensor(f, name, tensor);
    return text_of(f);
}

}  // namespace kelvin
