// Training-time augmentation of an image batch where it lives (kernels/augment.h): a random
// crop of the zero-padded image and a random left-right flip, drawn per sample from the seed.
#include "engine/dispatch.h"
#include "engine/ops.h"
#include "engine/trace.h"
#include "kernels/augment.h"

namespace kelvin::ops {

Tensor random_crop_flip(const Tensor& images, int64_t padding, bool flip, uint64_t seed) {
    KELVIN_TRACE_OP("random_crop_flip", images.device());
    check_f32(images, "random_crop_flip");
    KELVIN_CHECK(images.ndim() == 4,
                 "random_crop_flip: expected images [N, C, H, W], got " + images.describe());
    Tensor out = Tensor::empty(images.shape(), DType::F32, images.device());
    KELVIN_DISPATCH(images.device(), random_crop_flip, images.f32(), out.f32(), images.size(0),
                    images.size(1), images.size(2), images.size(3), padding, flip, seed);
    return out;  // not recorded: an input transformation, before any parameter
}

}  // namespace kelvin::ops
