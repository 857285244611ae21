#!/usr/bin/python3
"""Golden fixtures for tests/test_golden.cpp: each model family built in PyTorch with kelvin's
structure and parameter names, one forward and backward of the temperature cross-entropy, and
everything written to tests/golden/<fixture>.safetensors.

Each file holds
  <name>                every parameter and buffer, state_dict names (num_batches_tracked dropped:
                        kelvin has no such buffer), as initialised here (float32)
  input, labels         the batch (labels int32)
  logits, loss          the forward in training mode (BatchNorm on batch statistics)
  grad.<param>          d loss / d param for every parameter
  after.<buffer>        the BatchNorm running statistics after that forward
and, in the metadata, the kelvin model name and the ModelOptions fields that build the same
model, plus the temperature.

The reference is computed in float64 from the float32 weights and inputs, so the C++ test measures
kelvin's float32 error alone. Run with Debian's interpreter, which has torch:
    /usr/bin/python3 tests/golden/make_fixtures.py
CI never runs this; it reads the committed files.
"""
import copy
import json
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
TEMPERATURE = 10.0
NUM_CLASSES = 10


def save_safetensors(path, tensors, metadata):
    """The safetensors layout: u64 header length (little-endian), JSON header, raw data."""
    header = {"__metadata__": metadata}
    blobs, offset = [], 0
    for name, t in tensors.items():
        t = t.detach().contiguous().cpu()
        dtype = {torch.float32: "F32", torch.int32: "I32"}[t.dtype]
        data = t.numpy().tobytes()
        header[name] = {"dtype": dtype, "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # align the data to 8 bytes, as kelvin's writer does
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


# ---- heads -------------------------------------------------------------------------------------

def add_head(module, features, placement):
    """models/model.h ClassifierHead, registered on the model itself: head_norm, classifier."""
    module.placement = placement
    if placement == "layernorm":
        module.head_norm = nn.LayerNorm(features)
    module.classifier = nn.Linear(features, NUM_CLASSES)


def run_head(module, h):
    if module.placement == "layernorm":
        h = module.head_norm(h)
    logits = module.classifier(h)
    if module.placement == "normalized_logits":
        logits = F.normalize(logits, dim=1, eps=1e-12)
    return logits


# ---- mlp (models/mlp.h) -------------------------------------------------------------------------

class Mlp(nn.Module):
    def __init__(self, in_features, depth, width, norm, head_norm):
        super().__init__()
        self.hidden = nn.ModuleList()
        self.norm = nn.ModuleList()
        for _ in range(depth - 1):
            self.hidden.append(nn.Linear(in_features, width))
            if norm == "batchnorm":
                self.norm.append(nn.BatchNorm1d(width))
            in_features = width
        add_head(self, in_features, head_norm)

    def forward(self, x):
        h = x.flatten(1)
        for i, layer in enumerate(self.hidden):
            h = layer(h)
            if len(self.norm):
                h = self.norm[i](h)
            h = F.relu(h)
        return run_head(self, h)


# ---- vgg (models/vgg.h) -------------------------------------------------------------------------

VGG_CONFIGS = {"vgg11": [1, "M", 2, "M", 4, 4, "M", 8, 8, "M", 8, 8, "M"]}


class Vgg(nn.Module):
    def __init__(self, depth, batch_norm, in_channels, height, width, base_width, head_norm):
        super().__init__()
        layers = []
        channels = in_channels
        for v in VGG_CONFIGS[depth]:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2))
                if height >= 2 and width >= 2:
                    height, width = height // 2, width // 2
                continue
            out = base_width * v
            layers.append(nn.Conv2d(channels, out, 3, padding=1))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers.append(nn.ReLU())
            channels = out
        self.features = nn.Sequential(*layers)
        add_head(self, channels * height * width, head_norm)

    def forward(self, x):
        h = x
        for layer in self.features:
            # kelvin's rule for small inputs: a pool is skipped once the map is below 2x2.
            if isinstance(layer, nn.MaxPool2d) and (h.shape[2] < 2 or h.shape[3] < 2):
                continue
            h = layer(h)
        return run_head(self, h.flatten(1))


# ---- resnet (models/resnet.h) -------------------------------------------------------------------

class BasicBlock(nn.Module):
    def __init__(self, inp, out, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(inp, out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out)
        self.conv2 = nn.Conv2d(out, out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out)
        self.downsample = None
        if stride != 1 or inp != out:
            self.downsample = nn.Sequential(nn.Conv2d(inp, out, 1, stride, bias=False),
                                            nn.BatchNorm2d(out))

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        h = self.bn2(self.conv2(h))
        return F.relu(h + (self.downsample(x) if self.downsample is not None else x))


class ResNet(nn.Module):
    def __init__(self, blocks, in_channels, base_width, stem, head_norm):
        super().__init__()
        self.stem = stem
        if stem == "imagenet":
            self.conv1 = nn.Conv2d(in_channels, base_width, 7, 2, 3, bias=False)
        else:
            self.conv1 = nn.Conv2d(in_channels, base_width, 3, 1, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(base_width)
        channels = base_width
        for l, count in enumerate(blocks):
            out = base_width << l
            layer = []
            for b in range(count):
                layer.append(BasicBlock(channels, out, 2 if (l > 0 and b == 0) else 1))
                channels = out
            setattr(self, f"layer{l + 1}", nn.Sequential(*layer))
        add_head(self, channels, head_norm)

    def forward(self, x):
        h = F.relu(self.bn1(self.conv1(x)))
        if self.stem == "imagenet":
            h = F.max_pool2d(h, 3, 2, 1)
        for l in range(1, 5):
            h = getattr(self, f"layer{l}")(h)
        return run_head(self, h.mean(dim=(2, 3)))


# ---- vit (models/vit.h) -------------------------------------------------------------------------

class EncoderBlock(nn.Module):
    def __init__(self, dim, heads, mlp_dim):
        super().__init__()
        self.ln_1 = nn.LayerNorm(dim, eps=1e-6)
        self.self_attention = nn.MultiheadAttention(dim, heads, batch_first=True)
        self.ln_2 = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = nn.Sequential(nn.Linear(dim, mlp_dim), nn.GELU(), nn.Dropout(0.0),
                                 nn.Linear(mlp_dim, dim), nn.Dropout(0.0))

    def forward(self, x):
        h = self.ln_1(x)
        h, _ = self.self_attention(h, h, h, need_weights=False)
        x = x + h
        return x + self.mlp(self.ln_2(x))


class Encoder(nn.Module):
    def __init__(self, seq, dim, depth, heads, mlp_dim):
        super().__init__()
        self.pos_embedding = nn.Parameter(torch.empty(1, seq, dim).normal_(std=0.02))
        self.layers = nn.Sequential()
        for i in range(depth):
            self.layers.add_module(f"encoder_layer_{i}", EncoderBlock(dim, heads, mlp_dim))
        self.ln = nn.LayerNorm(dim, eps=1e-6)

    def forward(self, x):
        return self.ln(self.layers(x + self.pos_embedding))


class VisionTransformer(nn.Module):
    def __init__(self, in_channels, height, width, patch, dim, depth, heads, mlp_ratio, head_norm):
        super().__init__()
        self.patch = patch
        self.conv_proj = nn.Conv2d(in_channels, dim, patch, patch)
        self.class_token = nn.Parameter(torch.zeros(1, 1, dim))
        seq = (height // patch) * (width // patch) + 1
        self.encoder = Encoder(seq, dim, depth, heads, int(mlp_ratio * dim + 0.5))
        add_head(self, dim, head_norm)

    def forward(self, x):
        n = x.shape[0]
        h = self.conv_proj(x).flatten(2).transpose(1, 2)  # [N, S, D], patches row-major
        h = torch.cat([self.class_token.expand(n, -1, -1), h], dim=1)
        return run_head(self, self.encoder(h)[:, 0])


# ---- fixtures ------------------------------------------------------------------------------------

def randomise_affine_and_statistics(model, generator):
    """Non-trivial norm parameters and running statistics, so that every path is exercised."""
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.LayerNorm)):
                m.weight.uniform_(0.5, 1.5, generator=generator)
                m.bias.uniform_(-0.5, 0.5, generator=generator)
            if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5, generator=generator)
                m.running_var.uniform_(0.5, 1.5, generator=generator)
        if isinstance(model, VisionTransformer):
            model.class_token.normal_(std=0.02, generator=generator)


def make_fixture(file_name, model, kelvin_model, options, input_shape, seed):
    generator = torch.Generator().manual_seed(seed + 1)
    randomise_affine_and_statistics(model, generator)
    x = torch.randn(*input_shape, generator=generator)
    labels = torch.randint(0, NUM_CLASSES, (input_shape[0],), generator=generator,
                           dtype=torch.int64)

    state = {k: v.detach().clone() for k, v in model.state_dict().items()
             if not k.endswith("num_batches_tracked")}
    reference = copy.deepcopy(model).double().train()
    logits = reference(x.double())
    loss = F.cross_entropy(logits / TEMPERATURE, labels)
    loss.backward()

    tensors = dict(state)
    tensors["input"] = x
    tensors["labels"] = labels.to(torch.int32)
    tensors["logits"] = logits.detach().float()
    tensors["loss"] = loss.detach().float().reshape(1)
    for name, p in reference.named_parameters():
        tensors["grad." + name] = p.grad.float()
    for name, b in reference.named_buffers():
        if not name.endswith("num_batches_tracked"):
            tensors["after." + name] = b.detach().float()
    metadata = {"model": kelvin_model, "temperature": str(TEMPERATURE),
                "num_classes": str(NUM_CLASSES)}
    metadata.update({k: str(v) for k, v in options.items()})
    path = os.path.join(HERE, file_name + ".safetensors")
    save_safetensors(path, tensors, metadata)
    print(f"{path}: {os.path.getsize(path)} bytes, loss {loss.item():.6f}, "
          f"{sum(p.numel() for p in model.parameters())} parameters")


def main():
    torch.manual_seed(0)
    make_fixture("mlp", Mlp(1 * 12 * 12, 3, 16, "batchnorm", "layernorm"), "mlp",
                 {"in_channels": 1, "in_height": 12, "in_width": 12, "depth": 3, "width": 16,
                  "norm": "batchnorm", "head_norm": "layernorm"}, (4, 1, 12, 12), seed=1)

    torch.manual_seed(0)
    make_fixture("vgg11bn", Vgg("vgg11", True, 1, 28, 28, 4, "none"), "vgg11bn",
                 {"in_channels": 1, "in_height": 28, "in_width": 28, "base_width": 4},
                 (4, 1, 28, 28), seed=2)

    torch.manual_seed(0)
    make_fixture("resnet18", ResNet([2, 2, 2, 2], 3, 4, "cifar", "none"), "resnet18",
                 {"in_channels": 3, "in_height": 16, "in_width": 16, "base_width": 4,
                  "stem": "cifar"}, (4, 3, 16, 16), seed=3)

    torch.manual_seed(0)
    make_fixture("resnet18_imagenet", ResNet([2, 2, 2, 2], 3, 4, "imagenet", "none"), "resnet18",
                 {"in_channels": 3, "in_height": 48, "in_width": 48, "base_width": 4,
                  "stem": "imagenet"}, (4, 3, 48, 48), seed=4)

    torch.manual_seed(0)
    make_fixture("vit", VisionTransformer(3, 16, 16, 4, 32, 2, 2, 4.0, "normalized_logits"), "vit",
                 {"in_channels": 3, "in_height": 16, "in_width": 16, "patch": 4, "vit_width": 32,
                  "vit_depth": 2, "vit_heads": 2, "vit_mlp_ratio": 4.0,
                  "head_norm": "normalized_logits"}, (4, 3, 16, 16), seed=5)


if __name__ == "__main__":
    main()
