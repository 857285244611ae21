// The CPU convolutions that read their input in place, without a column matrix: internal to
// the conv kernels (kernels/cpu/conv.cpp picks among them by shape), compiled once per
// instruction set like conv_gemm.h.
//   pixel-vector direct: stride 1, large maps; B is a padded input band, shifted per tap
//   channel-vector direct: output channels as the vector lanes, pixels broadcast from a padded
//     image (AVX-512: whole-row panels; 16-register ISAs: gathered pixels, strided layers)
//   tiny maps: one GEMM per output pixel over only the taps inside a <= 4-pixel map
#pragma once

#include <cstdint>

#include "kernels/conv.h"
#include "kernels/cpu/conv_gemm.h"

namespace kelvin::cpu::KELVIN_ISA::conv_direct {

// Pixel-vector direct conv: stride 1, a map of a tile or more, at most 1/8 of each padded row
// wasted, and more taps than output channels (else im2col copies less than this path's output
// tile).
bool direct_pays(const ConvShape& s);

// out = conv(in, W) + bias for stride-1 shape s (W [out_channels, taps] packed; bias may be
// null).
void direct_conv_stride1(const float* in, const conv_gemm::PackedA& weights, const float* bias,
                         float* out, const ConvShape& s);

// Whether the channel-vector path applies to s and beats the others.
bool channel_direct_fits(const ConvShape& s);

// out = conv(in, W) + bias (bias may be null) for a shape where channel_direct_fits;
// packed_weights as pack_forward_panels or pack_flipped_panels writes them.
void channel_direct_conv(const float* in, const float* packed_weights, const float* bias,
                         float* out, const ConvShape& s);

// The weights as the channel-vector kernel reads them, [ceil(M/kNR)][K][kNR]: the layer's
// [O, T] weights, or for backward data the [C, O*area] weights flipped in space.
void pack_forward_panels(const float* weight, int64_t O, int64_t T, float* out, bool parallel);
void pack_flipped_panels(const float* weight, int64_t O, int64_t C, int64_t area, float* out,
                         bool parallel);

// Tiny maps (<= 4 pixels, batch >= 16, >= 16 channels each way, stride 1).
bool tiny_map_fits(const ConvShape& s);
// y = conv(x, filters) + bias for shape s.
void tiny_map_conv(const float* x, const conv_gemm::FilterView& filter, const float* bias, float* y,
                   const ConvShape& s);

}  // namespace kelvin::cpu::KELVIN_ISA::conv_direct
