"""FERNet: this project's CPU-efficient FER2013 family — a VGG-style plain CNN sized for 2 cores.

Why this shape (measured on the project's 2-core machine, TensorFlow 2.21, batch 64): a plain
stack of 3×3 convolutions with BatchNorm runs at the best CPU-seconds per image of the shapes we
timed (VGG-style 1.2 M parameters: ~4 CPU-s per 1000 training images; a ResNet-9-style net of
0.4 M parameters: ~3.4; a ResNet-9 of 1.6 M: ~8.4), and it is the shape of the published small
FER2013 models that reach 71–73 % (Pramerdorfer & Kampel 2016; Khaireddin & Chen 2021). The
global-average-pooled head keeps the parameter count low and lets TTA crops of other sizes pass.
"""

from fer_keras.models.blocks import classifier_head, conv_bn_relu, image_input
from fer_keras.models.family import ModelFamily, cpu_preset
from fer_keras.models.lazy import keras, layers

FERNET_WIDTHS = {"t": 16, "s": 32, "m": 48}
"""Size presets: the first stage's width (the stages have width, 2×, 4×, 8× that)."""


def build_fernet(input_shape=(48, 48, 1), num_classes=7, binary=False, size="s", width=None, depth=2,
                 dropout=0.3, name=None):
    """FERNet: 4 stages × ``depth`` conv_bn_relu (widths w, 2w, 4w, 8w; a 2×2 max-pool after each
    stage, 48 → 24 → 12 → 6 → 3) → GlobalAveragePooling → Dropout → Dense(num_classes) softmax.

    Parameters at 48×48×1 with 7 classes: "t" (w=16) 295,575; "s" (w=32) 1,176,359; "m" (w=48)
    2,642,359. Trained by the "modern_sgd" recipe (SGD-Nesterov, warm-up + cosine, label smoothing,
    crop + flip); see ``fer_keras.training.recipes``.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 16.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (one-vs-rest).
        size: preset "t", "s" or "m" (ignored when ``width`` is given).
        width: the first stage's number of filters.
        depth: convolutions per stage.
        dropout: before the classifier.
        name: the model's name (default ``fernet_<size>``).
    """
    if width is None:
        if size not in FERNET_WIDTHS:
            raise ValueError(f"size must be one of {', '.join(FERNET_WIDTHS)}, got {size!r}")
        width = FERNET_WIDTHS[size]
    if int(depth) < 1:
        raise ValueError(f"depth must be at least 1, got {depth!r}")
    inputs = image_input(input_shape)
    x = inputs
    for stage, multiple in enumerate((1, 2, 4, 8), start=1):
        for i in range(1, int(depth) + 1):
            x = conv_bn_relu(x, width * multiple, f"stage{stage}_{i}", bn_momentum=0.9)
        x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name or f"fernet_{size}")


def fernet_preset(size):
    """The builder of one size preset, registered as ``fernet_<size>``."""

    def build(input_shape=(48, 48, 1), num_classes=7, binary=False, width=None, depth=2, dropout=0.3,
              name=f"fernet_{size}"):
        return build_fernet(input_shape, num_classes, binary, size=size, width=width, depth=depth, dropout=dropout,
                            name=name)

    build.__name__ = f"build_fernet_{size}"
    build.__doc__ = f"FERNet-{size.upper()} (first-stage width {FERNET_WIDTHS[size]}); see :func:`build_fernet`."
    return build


FAMILIES = tuple(
    ModelFamily(f"fernet_{size}", fernet_preset(size), "this project (issue 12)", parameters, min_input=16,
                cpu=cpu_preset(parameters[0], recipe={}, base_recipe="modern_sgd", why="this project's CPU family"))
    for size, parameters in [("t", (295_575, 294_615, 960)), ("s", (1_176_359, 1_174_439, 1_920)),
                             ("m", (2_642_359, 2_639_479, 2_880))])
