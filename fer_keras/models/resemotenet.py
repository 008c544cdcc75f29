"""ResEmoteNet (Roy et al. 2024, "ResEmoteNet: Bridging Accuracy and Loss Reduction in Facial Emotion
Recognition", §3 and the authors' ``approach/ResEmoteNet.py``): a plain convolutional stem, one
squeeze-and-excitation block and three wide residual blocks.

The authors resize each face to 64×64, copy the grey channel to three and normalise with ImageNet's
mean and std before the first convolution. So does the graph here (``base_size``, "torch"
preprocessing of ``transfer.grey_to_base_input``), so the model takes the dataset's 48×48×1 faces in
[0, 1]; ``base_size=48`` keeps their native size (about half the multiply-accumulates of 64).

The paper's 79.79 % on FER2013 does not reproduce on the standard splits (public reports: 58–66 %
from scratch).
"""

from fer_keras.errors import FERError
from fer_keras.models.blocks import classifier_head, conv_bn_relu, image_input
from fer_keras.models.family import QUARTER, ROY_UNREPRODUCED, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers
from fer_keras.models.transfer import grey_to_base_input

RESEMOTENET_BASE_SIZE = 64
"""The side the authors resize faces to."""

STEM_FILTERS = (64, 128, 256)
RESIDUAL_FILTERS = (512, 1024, 2048)
HEAD_UNITS = (1024, 512, 256)
SE_REDUCTION = 16


def squeeze_excitation(x, reduction=SE_REDUCTION, name="se"):
    """Squeeze-and-excitation (Hu et al. 2018): GlobalAveragePooling → Dense C/r (no bias) ReLU →
    Dense C (no bias) sigmoid → the map scaled per channel (``layers.Multiply``, no Lambda)."""
    channels = x.shape[-1]
    s = layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_squeeze")(x)
    s = layers.Dense(channels // reduction, use_bias=False, activation="relu", name=f"{name}_reduce")(s)
    s = layers.Dense(channels, use_bias=False, activation="sigmoid", name=f"{name}_expand")(s)
    return layers.Multiply(name=f"{name}_scale")([x, s])


def residual_block(x, filters, name, strides=2):
    """Conv 3×3/``strides`` → BN → ReLU → Conv 3×3 → BN, plus a 1×1/``strides`` projection with
    BatchNorm (the authors' shortcut has it), added, then ReLU (``{name}_out``)."""
    y = conv_bn_relu(x, filters, f"{name}_1", strides=strides, use_bias=True)
    y = conv_bn_relu(y, filters, f"{name}_2", use_bias=True, relu=False)
    shortcut = layers.Conv2D(filters, 1, strides=strides, name=f"{name}_proj")(x)
    shortcut = layers.BatchNormalization(name=f"{name}_proj_bn")(shortcut)
    x = layers.Add(name=f"{name}_add")([y, shortcut])
    return layers.ReLU(name=f"{name}_out")(x)


def build_resemotenet(input_shape=(48, 48, 1), num_classes=7, binary=False, base_size=RESEMOTENET_BASE_SIZE,
                      width=1.0, stem_dropout=0.2, dropout=0.5, name="resemotenet"):
    """ResEmoteNet, Roy et al. 2024 (Fig. 1 and the authors' code).

    Resize to ``base_size`` + grey → RGB + ImageNet normalisation → stem: 3 × [Conv 3×3 (64, 128,
    256) → BN → ReLU → MaxPool 2], Dropout 0.2 after the first two pools → squeeze-and-excitation
    on 256 channels (Dense 16 → Dense 256, no biases) → 3 residual blocks, 256 → 512 → 1024 → 2048,
    each halving the map (64 → 32 → 16 → 8 → 4 → 2 → 1) → GlobalAveragePooling → Dense 1024, 512,
    256 (ReLU, Dropout 0.5 each) → Dense softmax.

    With 7 classes: 80,260,999 parameters (80,238,599 trainable, 22,400 BatchNorm statistics): the
    80,238,599 learnable parameters of the authors' PyTorch model with a 7-class head (theirs has 6:
    80,238,342), as the convolutions keep their biases and the first sees three channels. The
    totals do not depend on ``base_size``. The paper trained with SGD 1e-3, momentum 0.9, weight
    decay 1e-4, batch 16, 80 epochs (early stopping after 15 without progress).

    Args:
        input_shape: H×W×1 of the input image (values in [0, 1]).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        base_size: the side the face is resized to in the graph: the paper's 64, or 48 for the
            dataset's own size.
        width: multiplies every convolution's filters (1 = the paper's); 0.25 has 1/16 of the
            convolution weights, for quick experiments.
        stem_dropout: after the first two stem pools.
        dropout: after each hidden Dense layer.
        name: the model's name.
    """
    if isinstance(base_size, bool) or not isinstance(base_size, int) or base_size < 8:
        raise FERError(f"base_size must be an integer of at least 8 pixels (the paper's is "
                       f"{RESEMOTENET_BASE_SIZE}), got {base_size!r}")
    if not isinstance(width, (int, float)) or isinstance(width, bool) or not 0 < width <= 4:
        raise FERError(f"width must be a number in (0, 4] (1 = the paper's model), got {width!r}")
    inputs = image_input(input_shape)
    x = grey_to_base_input(inputs, base_size, "torch")
    for i, filters in enumerate(STEM_FILTERS, start=1):
        x = conv_bn_relu(x, max(1, round(filters * width)), f"stem{i}", use_bias=True)
        x = layers.MaxPooling2D(2, name=f"stem{i}_pool")(x)
        if i < len(STEM_FILTERS):
            x = layers.Dropout(stem_dropout, name=f"stem{i}_drop")(x)
    x = squeeze_excitation(x)
    for i, filters in enumerate(RESIDUAL_FILTERS, start=1):
        x = residual_block(x, max(1, round(filters * width)), f"res{i}")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    for i, units in enumerate(HEAD_UNITS, start=1):
        x = layers.Dense(units, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"fc{i}_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILY = ModelFamily(
    "resemotenet", build_resemotenet, "Roy et al. 2024 (authors' code; 80,238,599 learnable)",
    (80_260_999, 80_238_599, 22_400), preprocessing="torch",
    cpu=cpu_preset(6_038_119, {**QUARTER, "base_size": 48}, why="80 M → 6.0 M parameters", epoch=1.51),
    figures={"resemotenet": figure(79.79, ROY_UNREPRODUCED)})
