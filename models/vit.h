// A Vision Transformer (Dosovitskiy et al.) sized for small images, with torchvision's
// VisionTransformer layout and parameter names:
//   conv_proj      patch embedding: a conv with kernel = stride = patch, stored as the 4-D
//                  weight [D, C, p, p] (+ bias [D]) and applied as a linear map on patchify's
//                  [N, S, C*p*p] output (the same function, no im2col)
//   class_token    [1, 1, D], prepended to the S = (H/p)*(W/p) patch tokens
//   encoder.pos_embedding  [1, S + 1, D], learned, added to every sequence
//   encoder.layers.encoder_layer_<i>  pre-norm blocks:
//                  x = x + out_proj(attention(in_proj(ln_1(x))))
//                  x = x + mlp.3(gelu(mlp.0(ln_2(x))))
//                  with self_attention.in_proj_weight [3D, D] / in_proj_bias [3D] packing q, k, v
//                  (as nn.MultiheadAttention), self_attention.out_proj, and an MLP of
//                  vit_mlp_ratio * D hidden units with exact (erf) GELU
//   encoder.ln     final LayerNorm; the class token's output feeds the shared classifier head
//                  ("classifier", torchvision: "heads.head")
// LayerNorm eps is 1e-6 (torchvision's choice for ViT). Options (models/model.h): patch, vit_width,
// vit_depth, vit_heads, vit_mlp_ratio, vit_dropout; the defaults (patch 4, D 192, 6 blocks, 3 heads,
// ratio 4, no dropout) suit 32x32 inputs (64 patches) and also take 28x28 (49 patches).
// vit_dropout, when positive, sits where torchvision's does: after the position embedding, after
// the attention's output projection and after each MLP linear.
//
// Initialisation: conv_proj and every linear (in_proj included, as a D -> 3D linear) use
// PyTorch's nn.Linear/nn.Conv2d default U(+-1/sqrt(fan_in)) times options.init_scale, as in the
// other families; class_token is zero and pos_embedding N(0, 0.02^2) (torchvision's), LayerNorms
// weight 1 and bias 0. (torchvision instead uses xavier-uniform for in_proj and the MLP and a
// zero head.)
//
// Probe points: the class token after every block ("encoder_layer_0", ...) — the token that
// becomes the representation, rather than a mean over tokens — and "penultimate": the class
// token after encoder.ln, the head's input.
#pragma once

#include <memory>

#include "engine/nn/linear.h"
#include "engine/nn/norm.h"
#include "models/model.h"

namespace kelvin::models {

// nn.MultiheadAttention's self-attention with packed projections (no mask, no dropout inside).
class SelfAttention : public nn::Module {
public:
    SelfAttention(int64_t dim, int heads, float init_scale, nn::Generator& gen);
    Tensor forward(const Tensor& x) const;  // [N, S, D] -> [N, S, D]

private:
    int heads_;
    Tensor* in_proj_weight_;
    Tensor* in_proj_bias_;
    std::shared_ptr<nn::Linear> out_proj_;
};

class EncoderBlock : public nn::Module {
public:
    EncoderBlock(int64_t dim, int heads, int64_t mlp_dim, float dropout, uint64_t seed,
                 float init_scale, nn::Generator& gen);
    Tensor forward(const Tensor& x) const;

private:
    std::shared_ptr<nn::LayerNorm> ln_1_, ln_2_;
    std::shared_ptr<SelfAttention> attention_;
    std::shared_ptr<nn::Linear> fc1_, fc2_;
    std::shared_ptr<nn::Dropout> attention_dropout_, hidden_dropout_, output_dropout_;
};

class VisionTransformer : public Model {
public:
    explicit VisionTransformer(const ModelOptions& options);
    Tensor forward(const Tensor& x, std::vector<Tensor>* probes = nullptr) override;
    std::vector<std::string> probe_names() const override;
    std::string name() const override { return "vit"; }

private:
    Tensor* conv_proj_weight_;
    Tensor* conv_proj_bias_;
    Tensor* class_token_;
    Tensor* pos_embedding_;
    std::shared_ptr<nn::Dropout> embedding_dropout_;
    std::vector<std::shared_ptr<EncoderBlock>> blocks_;
    std::shared_ptr<nn::LayerNorm> final_norm_;
    ClassifierHead head_;
};

}  // namespace kelvin::models
