// The convolution layers the CPU conv benchmarks time (bench/conv_layers.cpp, the OpenBLAS route
// in bench/conv_sgemm.cpp) and bench/peers/pytorch_conv.py repeats: every ResNet-18 / VGG-11
// layer shape on 32x32 inputs at batch 32; and the random operands they time them on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <new>
#include <random>
#include <vector>

#include "engine/storage.h"
#include "kernels/conv.h"

namespace kelvin {

inline std::vector<ConvShape> benchmark_conv_layers() {
    auto layer = square_conv_shape;  // (n, c, hw, o, k, stride, padding)
    return {
        layer(32, 3, 32, 64, 3, 1, 1),    layer(32, 64, 32, 64, 3, 1, 1),
        layer(32, 64, 32, 128, 3, 2, 1),  layer(32, 64, 32, 128, 1, 2, 0),
        layer(32, 128, 16, 128, 3, 1, 1), layer(32, 128, 16, 256, 3, 2, 1),
        layer(32, 128, 16, 256, 1, 2, 0), layer(32, 256, 8, 256, 3, 1, 1),
        layer(32, 256, 8, 512, 3, 2, 1),  layer(32, 256, 8, 512, 1, 2, 0),
        layer(32, 512, 4, 512, 3, 1, 1),
        // VGG-11's layers that ResNet-18 lacks.
        layer(32, 64, 16, 128, 3, 1, 1),  layer(32, 128, 8, 256, 3, 1, 1),
        layer(32, 256, 4, 512, 3, 1, 1),  layer(32, 512, 2, 512, 3, 1, 1),
    };
}

// Floats on cache lines, as kelvin's tensors are (kHostAlignment, engine/storage.h): a std::vector
// of a few MB comes from mmap 16 bytes past a page start, so every 64-byte vector load of a
// kernel that reads it in place would span two cache lines, as none does in training.
template <typename T>
struct CacheLineAllocator {
    using value_type = T;
    CacheLineAllocator() = default;
    template <typename U>
    CacheLineAllocator(const CacheLineAllocator<U>&) {}
    T* allocate(std::size_t n) {
        return static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t(kHostAlignment)));
    }
    void deallocate(T* p, std::size_t) { ::operator delete(p, std::align_val_t(kHostAlignment)); }
    template <typename U>
    bool operator==(const CacheLineAllocator<U>&) const { return true; }
    template <typename U>
    bool operator!=(const CacheLineAllocator<U>&) const { return false; }
};
using BenchFloats = std::vector<float, CacheLineAllocator<float>>;

// n floats from U(-1, 1), the same for the same seed.
inline BenchFloats random_floats(size_t n, uint32_t seed) {
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
    BenchFloats v(n);
    for (float& x : v) x = dist(gen);
    return v;
}

}  // namespace kelvin
