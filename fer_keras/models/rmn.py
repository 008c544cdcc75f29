"""ResNet34 (He et al. 2016), CBAM-ResNet34 (Woo et al. 2018) and the Residual Masking Network (Pham
et al. 2020, "Facial Expression Recognition using Residual Masking Network", ICPR; the authors'
``models/resmasking.py`` and ``models/masking.py``): the three best single models of Pham et al.'s
FER2013 ensemble, which Berindeie's (2024) report reuses.

All three share the ResNet34 body: BasicBlocks [3, 4, 6, 3] of widths 64, 128, 256, 512. The paper
feeds 224×224 RGB through the ImageNet stem (7×7/2 convolution, 3×3/2 max-pool; ``stem="imagenet"``):
about 24 G multiply-accumulates per image for RMN, out of reach of a CPU. The default here is the
dataset's 48×48×1 face and a small stem (3×3/1 convolution, 2×2 max-pool; ``stem="small"``), so the
four stages see 24, 12, 6 and 3 pixels (the paper's 56, 28, 14, 7); ``width`` scales every width
(0.5 or 0.25 make CPU-sized models). The parameter totals depend on the stem and ``width`` only.
"""

from fer_keras.errors import FERError
from fer_keras.models.blocks import classifier_head, conv_bn_relu, image_input
from fer_keras.models.family import PHAM, QUARTER, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers

RESNET34_BLOCKS = (3, 4, 6, 3)
RESNET_WIDTHS = (64, 128, 256, 512)
MASK_DEPTHS = (4, 3, 2, 1)
"""The depth of the masking block (a U-Net) after each stage (Pham et al. 2020, §3)."""

STEMS = ("small", "imagenet")


def cbam(x, name, reduction=16, kernel_size=7):
    """Convolutional block attention module (Woo et al. 2018, Fig. 2): channel attention (a shared
    MLP C → C/``reduction`` → C on the average- and max-pooled map, summed, sigmoid), then spatial
    attention (a ``kernel_size``² convolution with BatchNorm on the channels' max and mean, sigmoid)."""
    from fer_keras.models.layers import ChannelPool  # (a Layer subclass: imports Keras)

    channels = x.shape[-1]
    hidden = layers.Dense(max(channels // reduction, 1), activation="relu", name=f"{name}_mlp1")
    expand = layers.Dense(channels, name=f"{name}_mlp2")
    pooled = [layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_avg")(x),
              layers.GlobalMaxPooling2D(keepdims=True, name=f"{name}_max")(x)]
    gate = layers.Add(name=f"{name}_channel_sum")([expand(hidden(p)) for p in pooled])
    gate = layers.Activation("sigmoid", name=f"{name}_channel_gate")(gate)
    x = layers.Multiply(name=f"{name}_channel_scale")([x, gate])
    gate = ChannelPool(name=f"{name}_channel_pool")(x)
    gate = conv_bn_relu(gate, 1, f"{name}_spatial", kernel_size, relu=False)
    gate = layers.Activation("sigmoid", name=f"{name}_spatial_gate")(gate)
    return layers.Multiply(name=f"{name}_spatial_scale")([x, gate])


def basic_block(x, filters, name, strides=1, attention=False, zero_gamma=False):
    """ResNet's BasicBlock: 3×3/``strides`` → BN → ReLU → 3×3 → BN [→ CBAM on this branch, as Woo et
    al. place it], plus the input (a 1×1/``strides`` projection with BN when the shape changes),
    then ReLU (``{name}_out``)."""
    y = conv_bn_relu(x, filters, f"{name}_1", 3, strides=strides)
    y = conv_bn_relu(y, filters, f"{name}_2", 3, relu=False, zero_gamma=zero_gamma)
    if attention:
        y = cbam(y, f"{name}_cbam")
    shortcut = x
    if strides != 1 or x.shape[-1] != filters:
        shortcut = conv_bn_relu(x, filters, f"{name}_proj", 1, strides=strides, relu=False)
    return layers.ReLU(name=f"{name}_out")(layers.Add(name=f"{name}_add")([y, shortcut]))


def masking_block(x, depth, name):
    """The Residual Masking Network's mask (the authors' ``Masking1``–``Masking4``): a U-Net of
    BasicBlocks whose encoder doubles the channels (C → 2C → … → 2^depth C, 2×2 max-pools between),
    whose decoder goes back up (2×2/2 transposed convolution → BN → ReLU, concatenated with the
    encoder's map, BasicBlock), then a BasicBlock to C channels and a softmax over the channels."""
    channels = x.shape[-1]
    skips = []
    for level in range(1, depth + 1):
        if level > 1:
            x = layers.MaxPooling2D(2, name=f"{name}_pool{level}")(x)
        x = basic_block(x, channels * 2 ** level, f"{name}_down{level}", zero_gamma=True)
        skips.append(x)
    for level in range(depth - 1, 0, -1):
        x = layers.Conv2DTranspose(channels * 2 ** level, 2, strides=2, name=f"{name}_up{level}")(x)
        x = layers.BatchNormalization(name=f"{name}_up{level}_bn")(x)
        x = layers.ReLU(name=f"{name}_up{level}_relu")(x)
        x = layers.Concatenate(name=f"{name}_skip{level}")([x, skips[level - 1]])
        x = basic_block(x, channels * 2 ** level, f"{name}_dec{level}", zero_gamma=True)
    x = basic_block(x, channels, f"{name}_last", zero_gamma=True)
    return layers.Softmax(axis=-1, name=f"{name}_softmax")(x)


def build_resnet_family(input_shape=(48, 48, 1), num_classes=7, binary=False, width=1.0, stem="small",
                        attention=False, masks=False, dropout=0.0, name="resnet34"):
    """ResNet34 [+ CBAM in every block] [+ a masking block after every stage, the stage's output
    scaled as x·(1 + mask)] → GlobalAveragePooling → Dropout → Dense softmax. See the three
    registered builders below for the papers' settings and parameter totals."""
    if stem not in STEMS:
        raise FERError(f"stem must be one of {', '.join(STEMS)}, got {stem!r}")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 4:
        raise FERError(f"width must be a number in (0, 4] (1 = the paper's widths), got {width!r}")
    inputs = image_input(input_shape)
    widths = [max(1, round(w * width)) for w in RESNET_WIDTHS]
    if stem == "imagenet":
        x = conv_bn_relu(inputs, widths[0], "stem", 7, strides=2)
        x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool")(x)
    else:
        x = conv_bn_relu(inputs, widths[0], "stem", 3)
        x = layers.MaxPooling2D(2, name="stem_pool")(x)
    if masks and any(side is not None and side % 8 for side in x.shape[1:3]):
        raise FERError(f"input_shape {tuple(input_shape)} gives a {x.shape[1]}×{x.shape[2]} first stage: the "
                       f"Residual Masking Network's masks need a multiple of 8 (48×48 with the small stem, "
                       f"224×224 with the imagenet stem)")
    for stage, (blocks, filters) in enumerate(zip(RESNET34_BLOCKS, widths), start=1):
        for i in range(1, blocks + 1):
            strides = 2 if stage > 1 and i == 1 else 1
            x = basic_block(x, filters, f"stage{stage}_block{i}", strides=strides, attention=attention)
        if masks:
            mask = masking_block(x, MASK_DEPTHS[stage - 1], f"mask{stage}")
            mask = layers.Rescaling(1.0, offset=1.0, name=f"mask{stage}_plus_one")(mask)
            x = layers.Multiply(name=f"stage{stage}_masked")([x, mask])
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    if dropout:
        x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


def build_resnet34(input_shape=(48, 48, 1), num_classes=7, binary=False, width=1.0, stem="small", dropout=0.0,
                   name="resnet34"):
    """ResNet34 (He et al. 2016, Table 1; torchvision's layout, as Pham et al. train it).

    At 48×48×1 with 7 classes (small stem, width 1): 21,296,455 parameters (21,279,431 trainable,
    17,024 BatchNorm statistics); ``width=0.5``: 5,333,671; ``width=0.25``: 1,338,199.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        width: multiplies every stage's width (1 = the paper's 64, 128, 256, 512).
        stem: "small" (3×3/1 conv, 2×2 pool: 48 → 24) or "imagenet" (7×7/2 conv, 3×3/2 pool: 224 → 56).
        dropout: before the classifier (torchvision's ResNet has none).
        name: the model's name.
    """
    return build_resnet_family(input_shape, num_classes, binary, width, stem, dropout=dropout, name=name)


def build_cbam_resnet34(input_shape=(48, 48, 1), num_classes=7, binary=False, width=1.0, stem="small",
                        dropout=0.0, name="cbam_resnet34"):
    """CBAM-ResNet34 (Woo et al. 2018): ResNet34 with a CBAM (reduction 16, 7×7 spatial kernel) on
    the residual branch of every BasicBlock, before the addition.

    At 48×48×1 with 7 classes (small stem, width 1): 21,459,283 parameters (21,442,227 trainable,
    17,056 BatchNorm statistics); ``width=0.5``: 5,376,605. Pham et al.'s ensemble member and
    73.39 % are CBAM-ResNet50's (Bottleneck blocks); this is the ResNet34 body the issue asks for.
    Arguments as :func:`build_resnet34`.
    """
    return build_resnet_family(input_shape, num_classes, binary, width, stem, attention=True, dropout=dropout,
                               name=name)


def build_rmn(input_shape=(48, 48, 1), num_classes=7, binary=False, width=1.0, stem="small", dropout=0.4,
              name="rmn"):
    """Residual Masking Network (Pham et al. 2020, Fig. 2; the authors' ``resmasking_dropout1``):
    ResNet34 with a masking block of depth 4, 3, 2, 1 after stages 1–4, each stage's output scaled
    as x·(1 + mask) → GlobalAveragePooling → Dropout 0.4 → Dense softmax.

    At 48×48×1 with 7 classes (small stem, width 1): 137,865,415 parameters (137,787,591 trainable,
    77,824 BatchNorm statistics); ``width=0.5``: 34,506,855; ``width=0.25``: 8,646,967. The paper's
    form (224×224×3, ``stem="imagenet"``) builds 137,874,247 (137,796,423 learnable, as the authors'
    code counts them); the paper states 142.9 M.
    The first stage's side must be a multiple of 8 (48 with the small stem, 224 with the imagenet
    one). Arguments as :func:`build_resnet34`; ``dropout`` is the paper's 0.4.
    """
    return build_resnet_family(input_shape, num_classes, binary, width, stem, masks=True, dropout=dropout,
                               name=name)


FAMILIES = (
    ModelFamily("resnet34", build_resnet34, "He et al. 2016; Pham et al. 2020's 72.42 % (48×48, small stem)",
                (21_296_455, 21_279_431, 17_024),
                cpu=cpu_preset(1_338_199, QUARTER, why="21.3 M → 1.3 M parameters", epoch=1.42),
                figures={"resnet34": figure(72.42, PHAM)}),
    ModelFamily("cbam_resnet34", build_cbam_resnet34, "Woo et al. 2018 on ResNet34 (48×48, small stem)",
                (21_459_283, 21_442_227, 17_056),
                cpu=cpu_preset(1_350_658, QUARTER, why="21.5 M → 1.4 M parameters", epoch=2.24),
                figures={"cbam_resnet34": figure(73.39, f"{PHAM}, CBAM-ResNet50 (not 34)")}),
    ModelFamily("rmn", build_rmn, "Pham et al. 2020 (states 142.9 M at 224; 48×48, small stem here)",
                (137_865_415, 137_787_591, 77_824), min_input=16,
                cpu=cpu_preset(2_171_871, {"width": 0.125}, why="138 M → 2.2 M parameters", epoch=3.63),
                figures={"rmn": figure(74.14, PHAM)}),
)
