#include "models/vit.h"

#include "engine/ops.h"
#include "kernels/dropout.h"

namespace kelvin::models {

namespace {

constexpr float kLayerNormEps = 1e-6f;

// linear on the last axis of [N, S, in] tokens (ops::linear takes rows [N*S, in]).
Tensor token_linear(const Tensor& x, const Tensor& weight, const Tensor& bias) {
    const int64_t batch = x.size(0), seq = x.size(1);
    Tensor y = ops::linear(ops::reshape(x, {batch * seq, x.size(2)}), weight, bias);
    return ops::reshape(y, {batch, seq, weight.size(0)});
}

Tensor token_linear(const Tensor& x, const nn::Linear& layer) {
    return token_linear(x, *layer.weight, layer.bias ? *layer.bias : Tensor());
}

}  // namespace

SelfAttention::SelfAttention(int64_t dim, int heads, float init_scale, nn::Generator& gen)
    : heads_(heads) {
    in_proj_weight_ =
        &register_parameter("in_proj_weight", nn::default_uniform({3 * dim, dim}, dim, init_scale, gen));
    in_proj_bias_ = &register_parameter("in_proj_bias", nn::default_uniform({3 * dim}, dim, init_scale, gen));
    out_proj_ = register_module("out_proj", std::make_shared<nn::Linear>(dim, dim, true, init_scale, gen));
}

Tensor SelfAttention::forward(const Tensor& x) const {
    const Tensor qkv = token_linear(x, *in_proj_weight_, *in_proj_bias_);
    return token_linear(ops::multi_head_attention(qkv, heads_), *out_proj_);
}

EncoderBlock::EncoderBlock(int64_t dim, int heads, int64_t mlp_dim, float dropout, uint64_t seed,
                           float init_scale, nn::Generator& gen) {
    ln_1_ = register_module("ln_1", std::make_shared<nn::LayerNorm>(dim, kLayerNormEps));
    attention_ = register_module("self_attention",
                                 std::make_shared<SelfAttention>(dim, heads, init_scale, gen));
    ln_2_ = register_module("ln_2", std::make_shared<nn::LayerNorm>(dim, kLayerNormEps));
    // torchvision's MLPBlock is Sequential(Linear, GELU, Dropout, Linear, Dropout).
    fc1_ = register_module("mlp.0", std::make_shared<nn::Linear>(dim, mlp_dim, true, init_scale, gen));
    hidden_dropout_ = register_module("mlp.2", std::make_shared<nn::Dropout>(dropout, splitmix64(seed, 1)));
    fc2_ = register_module("mlp.3", std::make_shared<nn::Linear>(mlp_dim, dim, true, init_scale, gen));
    output_dropout_ = register_module("mlp.4", std::make_shared<nn::Dropout>(dropout, splitmix64(seed, 2)));
    attention_dropout_ = register_module("dropout", std::make_shared<nn::Dropout>(dropout, splitmix64(seed, 0)));
}

Tensor EncoderBlock::forward(const Tensor& x) const {
    Tensor h = attention_dropout_->forward(attention_->forward(ln_1_->forward(x)));
    const Tensor mid = ops::add(x, h);
    h = hidden_dropout_->forward(ops::gelu(token_linear(ln_2_->forward(mid), *fc1_)));
    h = output_dropout_->forward(token_linear(h, *fc2_));
    return ops::add(mid, h);
}

VisionTransformer::VisionTransformer(const ModelOptions& o) : Model(o) {
    const int64_t dim = o.vit_width;
    KELVIN_CHECK(o.patch >= 1 && o.in_height % o.patch == 0 && o.in_width % o.patch == 0,
                 "vit: patch size " + std::to_string(o.patch) + " must divide the input " +
                     std::to_string(o.in_height) + "x" + std::to_string(o.in_width));
    KELVIN_CHECK(o.vit_depth >= 1, "vit: vit_depth must be at least 1, got " + std::to_string(o.vit_depth));
    KELVIN_CHECK(o.vit_heads >= 1 && dim >= 1 && dim % o.vit_heads == 0,
                 "vit: vit_width " + std::to_string(dim) + " must be a positive multiple of vit_heads " +
                     std::to_string(o.vit_heads));
    const int64_t mlp_dim = static_cast<int64_t>(o.vit_mlp_ratio * dim + 0.5f);
    KELVIN_CHECK(mlp_dim >= 1, "vit: vit_mlp_ratio * vit_width must be at least 1");
    KELVIN_CHECK(o.vit_dropout >= 0.0f && o.vit_dropout < 1.0f,
                 "vit: vit_dropout must be in [0, 1), got " + std::to_string(o.vit_dropout));

    nn::Generator gen(o.seed);
    const int64_t patch_features = int64_t(o.in_channels) * o.patch * o.patch;
    const int64_t seq = int64_t(o.in_height / o.patch) * (o.in_width / o.patch) + 1;
    conv_proj_weight_ = &register_parameter(
        "conv_proj.weight",
        nn::default_uniform({dim, o.in_channels, o.patch, o.patch}, patch_features, o.init_scale, gen));
    conv_proj_bias_ =
        &register_parameter("conv_proj.bias", nn::default_uniform({dim}, patch_features, o.init_scale, gen));
    class_token_ = &register_parameter("class_token", Tensor::zeros({1, 1, dim}));
    pos_embedding_ = &register_parameter("encoder.pos_embedding", nn::normal({1, seq, dim}, 0.0f, 0.02f, gen));
    embedding_dropout_ = register_module(
        "encoder.dropout", std::make_shared<nn::Dropout>(o.vit_dropout, splitmix64(o.seed, 0)));
    for (int i = 0; i < o.vit_depth; ++i)
        blocks_.push_back(register_module(
            "encoder.layers.encoder_layer_" + std::to_string(i),
            std::make_shared<EncoderBlock>(dim, o.vit_heads, mlp_dim, o.vit_dropout,
                                           splitmix64(o.seed, 1 + i), o.init_scale, gen)));
    final_norm_ = register_module("encoder.ln", std::make_shared<nn::LayerNorm>(dim, kLayerNormEps));
    head_ = make_head(dim, gen);
}

Tensor VisionTransformer::forward(const Tensor& x, std::vector<Tensor>* probes) {
    KELVIN_CHECK(x.ndim() == 4 && x.size(1) == options_.in_channels &&
                     x.size(2) == options_.in_height && x.size(3) == options_.in_width,
                 "vit: expected images [N, " + std::to_string(options_.in_channels) + ", " +
                     std::to_string(options_.in_height) + ", " + std::to_string(options_.in_width) +
                     "] (the position embeddings fix the size), got " + x.describe());
    const Tensor& weight = *conv_proj_weight_;
    const Tensor projection = ops::reshape(weight, {weight.size(0), -1});  // [D, C*p*p]
    Tensor h = token_linear(ops::patchify(x, options_.patch), projection, *conv_proj_bias_);
    h = ops::add_broadcast(ops::prepend_token(h, *class_token_), *pos_embedding_);
    h = embedding_dropout_->forward(h);
    for (const auto& block : blocks_) {
        h = block->forward(h);
        if (probes) probes->push_back(ops::select_token(h, 0));
    }
    const Tensor representation = ops::select_token(final_norm_->forward(h), 0);
    if (probes) probes->push_back(representation);
    return head_.forward(representation);
}

std::vector<std::string> VisionTransformer::probe_names() const {
    std::vector<std::string> names;
    for (size_t i = 0; i < blocks_.size(); ++i) names.push_back("encoder_layer_" + std::to_string(i));
    names.push_back("penultimate");
    return names;
}

}  // namespace kelvin::models
