// NECO's scaler and PCA fitted where the features already are: per-feature statistics, the
// standardisation and the covariance (a GEMM) run on the features' device, and the
// eigendecomposition of the D x D covariance runs there too (cuSOLVER's Dsyevd on a GPU, LAPACK's
// dsyevd on the CPU). Only D-sized statistics and the D x D covariance cross to the host.
// The covariance is accumulated by a float32 GEMM (the host-array fit_neco in ood_metrics.h
// uses float64): PCA directions agree to ~1e-5, which moves NECO scores by far less than the
// gaps between samples that AUROC ranks.
#pragma once

#include "engine/tensor.h"
#include "analysis/ood_metrics.h"

namespace kelvin {

NecoModel fit_neco(const Tensor& features);  // features [N, D] f32 on any device

}  // namespace kelvin
