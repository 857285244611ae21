// How the CPU conv passes cut their work (kernels/cpu/conv*.cpp): the tile geometry, and the
// per-thread scratch buffers that every path draws its tiles from. Internal to the conv
// kernels; compiled once per instruction set like conv_gemm.h.
#pragma once

#include <algorithm>
#include <cstdint>

#include "kernels/conv.h"
#include "kernels/cpu/conv_gemm.h"

namespace kelvin::cpu::KELVIN_ISA::conv_tiles {

using conv_gemm::Scratch;

// Target GEMM columns per tile: wide enough to reuse each A slice over 8 micro-tiles, small
// enough that a k-block of the tile (kKC x 256 floats, 256 KiB) stays in L2.
constexpr int64_t kTileColumns = 256;
// At least this many items when the batch allows it, so that both cores get work on small maps.
constexpr int64_t kMinItems = 4;

// Defined in conv.cpp. (As C++17 inline variables they became GNU unique symbols, which the
// per-variant link cannot make local: scripts/check-cpu-isas.sh.)
extern thread_local Scratch<float> t_columns;  // an im2col or dcol tile
extern thread_local Scratch<float> t_outputs;  // a tile of Y or dY spanning several images
// Packed weights or dY, x channel-last: filled by the calling thread, outside parallel loops.
extern thread_local Scratch<float> t_transposed;
extern thread_local Scratch<int64_t> t_offsets;  // B row offsets of a tile

struct Geometry {
    ConvShape s;
    int64_t area;      // kh * kw
    int64_t taps;      // C * kh * kw: rows of the column matrix
    int64_t pixels;    // out_h * out_w per image
    int64_t in_plane;  // in_h * in_w
    bool pointwise;    // 1x1, stride 1, no padding: x's channel planes are the column matrix
    int64_t images;    // images per item (1 unless the map is smaller than a tile)
    int64_t band_rows;  // output rows per tile when images == 1
};

inline Geometry geometry_of(const ConvShape& s) {
    Geometry g;
    g.s = s;
    g.area = s.kernel_h * s.kernel_w;
    g.taps = s.in_channels * g.area;
    g.pixels = s.out_h * s.out_w;
    g.in_plane = s.in_h * s.in_w;
    g.pointwise = g.area == 1 && s.stride == 1 && s.padding == 0;
    g.images = 1;
    if (g.pixels < kTileColumns) {
        const int64_t wanted = (kTileColumns + g.pixels - 1) / g.pixels;
        const int64_t spread = (s.batch + kMinItems - 1) / kMinItems;
        g.images = std::max<int64_t>(1, std::min(wanted, spread));
    }
    // Equal bands of about kTileColumns columns (at least one row).
    const int64_t max_rows = std::max<int64_t>(1, kTileColumns / std::max<int64_t>(1, s.out_w));
    const int64_t bands = (s.out_h + max_rows - 1) / max_rows;
    g.band_rows = g.images > 1 ? s.out_h : (s.out_h + bands - 1) / bands;
    return g;
}

inline bool empty_problem(const ConvShape& s) {
    return s.batch == 0 || s.out_channels == 0 || s.in_channels == 0 || s.out_h <= 0 ||
           s.out_w <= 0;
}

}  // namespace kelvin::cpu::KELVIN_ISA::conv_tiles
