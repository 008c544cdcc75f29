"""A patch ViT trained from scratch at 48×48 (Dosovitskiy et al. 2021's design, Trinh et al. 2023's
third model), sized for a CPU.

Trinh et al. fine-tuned a pretrained ViT-Base (86 M parameters, 224×224 RGB, 16×16 patches; 69 % on
FER2013 after 25 GPU-hours). Those weights cannot be downloaded here, and a ViT-Base trained from
scratch on 28 k faces would not converge, so this builder keeps the architecture and shrinks it:
4×4 patches of the 48×48 grey face (144 tokens), a 96-wide embedding, learned position embeddings,
pre-norm transformer blocks (LayerNorm → multi-head self-attention → residual; LayerNorm → MLP with
GELU → residual) and global average pooling of the tokens instead of a class token.

``stem="conv"`` replaces the one patchifying convolution by a stack of 3×3 stride-2 convolutions with
BatchNorm and ReLU down to the same token grid, then a 1×1 projection (Xiao et al. 2021, "Early
convolutions help transformers see better"): the same transformer on the same tokens, which trains
far faster from scratch and is far less sensitive to the learning rate.
"""

import math

from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.family import TRINH, VIT_RECIPE, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers


def transformer_block(x, heads, mlp_units, dropout, name):
    """Pre-norm transformer encoder block: x + MHA(LN(x)); x + MLP(LN(x))."""
    dim = x.shape[-1]
    y = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln1")(x)
    y = layers.MultiHeadAttention(heads, key_dim=dim // heads, dropout=dropout, name=f"{name}_mha")(y, y)
    x = layers.Add(name=f"{name}_add1")([x, y])
    y = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_ln2")(x)
    y = layers.Dense(mlp_units, activation="gelu", name=f"{name}_mlp1")(y)
    y = layers.Dropout(dropout, name=f"{name}_mlp_drop")(y)
    y = layers.Dense(dim, name=f"{name}_mlp2")(y)
    return layers.Add(name=f"{name}_add2")([x, y])


def conv_stem(x, dim, patch_size):
    """Xiao et al. 2021's stem: log2(``patch_size``) 3×3 stride-2 convolutions (BatchNorm, ReLU), widths
    doubling up to ``dim``, then a 1×1 convolution to ``dim`` — the token grid of a ``patch_size`` patchify."""
    steps = int(math.log2(patch_size))
    for i in range(steps):
        x = layers.Conv2D(max(8, dim // 2 ** (steps - 1 - i)), 3, strides=2, padding="same", use_bias=False,
                          name=f"stem{i + 1}_conv")(x)
        x = layers.BatchNormalization(name=f"stem{i + 1}_bn")(x)
        x = layers.ReLU(name=f"stem{i + 1}_relu")(x)
    return layers.Conv2D(dim, 1, name="patch_embed")(x)


def build_patch_vit(input_shape=(48, 48, 1), num_classes=7, binary=False, patch_size=4, dim=96, depth=4,
                    heads=4, mlp_ratio=2, dropout=0.1, stem="patch", name="patch_vit"):
    """Patch embedding (Conv2D ``patch_size`` stride ``patch_size`` → ``dim``) → position embedding →
    ``depth`` pre-norm transformer blocks → LayerNorm → token average → Dropout → Dense softmax.

    At 48×48×1 with 7 classes: 315,463 parameters. The input side must be a multiple of
    ``patch_size``.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        patch_size: side of a square patch (one token).
        dim: embedding width (a multiple of ``heads``).
        depth: transformer blocks.
        heads: attention heads per block.
        mlp_ratio: MLP width as a multiple of ``dim``.
        dropout: in attention, the MLP and before the head.
        stem: "patch" (one ``patch_size`` stride-``patch_size`` convolution, as in ViT) or "conv"
            (:func:`conv_stem`; ``patch_size`` must then be a power of two).
        name: the model's name.
    """
    from fer_keras.models.layers import PositionEmbedding  # (a Layer subclass: imports Keras)

    if int(dim) % int(heads):
        raise ValueError(f"dim must be a multiple of heads, got dim={dim}, heads={heads}")
    if any(side % int(patch_size) for side in tuple(input_shape)[:2]):
        raise ValueError(f"input sides {tuple(input_shape)[:2]} must be multiples of patch_size={patch_size}")
    if stem not in ("patch", "conv"):
        raise ValueError(f"stem must be 'patch' or 'conv', got {stem!r}")
    if stem == "conv" and (int(patch_size) < 2 or int(patch_size) & (int(patch_size) - 1)):
        raise ValueError(f"a conv stem needs a power-of-two patch_size, got {patch_size}")
    inputs = image_input(input_shape)
    if stem == "conv":
        x = conv_stem(inputs, int(dim), int(patch_size))
    else:
        x = layers.Conv2D(dim, patch_size, strides=patch_size, name="patch_embed")(inputs)
    x = layers.Reshape((-1, dim), name="tokens")(x)
    x = PositionEmbedding(name="position_embedding")(x)
    for i in range(1, int(depth) + 1):
        x = transformer_block(x, int(heads), int(mlp_ratio * dim), dropout, name=f"block{i}")
    x = layers.LayerNormalization(epsilon=1e-6, name="final_ln")(x)
    x = layers.GlobalAveragePooling1D(name="token_mean")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILY = ModelFamily(
    "patch_vit", build_patch_vit, "Dosovitskiy et al. 2021; Trinh et al. 2023 (CPU-sized, from scratch)",
    (315_463, 315_463, 0), min_input=16,
    cpu=cpu_preset(365_503, {"patch_size": 8, "stem": "conv"}, {**VIT_RECIPE, "warmup_epochs": 1.0},
                   why="36 tokens of 8×8 from a convolutional stem (Xiao et al. 2021) instead of 144 patches of 4×4; "
                   "chosen on 7-CPU-minute probes (20 % of Training): 41.2 % against 24.0 % for 6×6 patches at "
                   "learning rate 3e-4 and 32.0 % for the stem at 3e-4", epoch=1.3),
    figures={"patch_vit_trinh": figure(69.0, f"{TRINH}, pretrained ViT-Base")})
