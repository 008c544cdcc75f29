"""GoogLeNet (Szegedy et al. 2015, "Going deeper with convolutions", Table 1), the model Trinh et al.
(2023) report 55 % with on FER2013 (60 epochs), sized for 48×48 grey faces.

The inception modules and their widths are the paper's Table 1 (3a–5b). The stem is not: the
original's 7×7/2 convolution and two stride-2 pools shrink 224 to 28 before 3a, which would leave a
48×48 face at 6×6. Here a 3×3/1 convolution, one pool, the paper's 1×1 → 3×3 (192) convolutions and a
second pool take 48 to 12, so 3a–3b see 12×12, 4a–4e 6×6 and 5a–5b 3×3 (the paper's 28, 14, 7). Every
convolution is followed by BatchNorm (Ioffe & Szegedy 2015) in place of the original's local response
normalisation, so the network trains from scratch with Adam.

The two auxiliary classifiers (training only; their losses weigh 0.3, see ``compile_model``) sit on
4a and 4d as in the paper: 5×5 average pool, stride 3 → 1×1 conv 128 → Dense 1024 → Dropout 0.7 →
Dense softmax. Their 6×6 map pools to 1×1 here (4×4 at 224), so their Dense 1024 has 128 inputs
instead of 2048; on inputs whose 4a map is smaller than 5×5 the pool shrinks to the map.
"""

from functools import partial

from fer_keras.models.blocks import AUX_OUTPUTS, classifier_head, conv_bn_relu, image_input
from fer_keras.models.family import QUARTER, TRINH, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers

INCEPTION_FILTERS = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}
"""Szegedy et al. 2015, Table 1: #1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj per module."""

POOL_BEFORE = {"4a": "pool3", "5a": "pool4"}
"""The 3×3/2 max-pools between the stages, by the module they feed."""

AUX_AFTER = {"4a": AUX_OUTPUTS[0], "4d": AUX_OUTPUTS[1]}
"""The modules whose output feeds an auxiliary classifier (the paper's 4a and 4d)."""

conv_unit = partial(conv_bn_relu, conv_suffix="")
"""GoogLeNet's Conv → BatchNorm → ReLU unit (``blocks.conv_bn_relu``), its convolution named ``{name}``."""


def inception_module(x, filters, name):
    """One inception module: 1×1 | 1×1 → 3×3 | 1×1 → 5×5 | 3×3 max-pool → 1×1, concatenated.

    ``filters`` is a row of Table 1: (#1×1, #3×3 reduce, #3×3, #5×5 reduce, #5×5, pool proj).
    Layers are named ``{name}_1x1``, ``{name}_3x3_reduce``, ``{name}_3x3``, ``{name}_5x5_reduce``,
    ``{name}_5x5``, ``{name}_pool``, ``{name}_pool_proj`` and ``{name}_concat`` (the output).
    """
    n1x1, n3x3_reduce, n3x3, n5x5_reduce, n5x5, pool_proj = filters
    branch1 = conv_unit(x, n1x1, f"{name}_1x1", 1)
    branch3 = conv_unit(conv_unit(x, n3x3_reduce, f"{name}_3x3_reduce", 1), n3x3, f"{name}_3x3", 3)
    branch5 = conv_unit(conv_unit(x, n5x5_reduce, f"{name}_5x5_reduce", 1), n5x5, f"{name}_5x5", 5)
    pooled = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_pool")(x)
    branch_pool = conv_unit(pooled, pool_proj, f"{name}_pool_proj", 1)
    return layers.Concatenate(name=f"{name}_concat")([branch1, branch3, branch5, branch_pool])


def auxiliary_classifier(x, num_classes, binary, name):
    """The paper's auxiliary head: 5×5 average pool, stride 3 (smaller when the map is) → 1×1 conv
    128 → Dense 1024 ReLU → Dropout 0.7 → Dense softmax named ``name``; layers ``{name}_pool``,
    ``{name}_conv``, ``{name}_flatten``, ``{name}_fc``, ``{name}_drop``."""
    pool_size = min(5, x.shape[1], x.shape[2])
    x = layers.AveragePooling2D(pool_size, strides=3, name=f"{name}_pool")(x)
    x = conv_unit(x, 128, f"{name}_conv", 1)
    x = layers.Flatten(name=f"{name}_flatten")(x)
    x = layers.Dense(1024, activation="relu", name=f"{name}_fc")(x)
    x = layers.Dropout(0.7, name=f"{name}_drop")(x)
    return classifier_head(x, num_classes, binary, name=name)


def build_googlenet(input_shape=(48, 48, 1), num_classes=7, binary=False, auxiliary=False, dropout=0.4,
                    name="googlenet"):
    """GoogLeNet for 48×48 grey faces: stem (3×3/1 conv 64 → 3×3/2 max-pool → 1×1 conv 64 → 3×3 conv
    192 → 3×3/2 max-pool) → inception 3a, 3b → pool → 4a–4e → pool → 5a, 5b → GlobalAveragePooling
    → Dropout → Dense softmax ``predictions`` (Szegedy et al. 2015, Table 1; see the module's note).

    At 48×48×1 with 7 classes: 5,993,735 parameters (5,979,175 trainable, 14,560 BatchNorm
    statistics) and 0.270 G multiply-accumulates per image (conv and dense layers; FERNet-M's 0.264 G,
    the five-layer CNN's 0.598 G); with ``auxiliary=True`` the training model has 6,406,421
    (6,391,349 trainable, 15,072 non-trainable) and 0.4 M more. Layer names do not depend on
    ``auxiliary``; ``fer_keras.models.inference_model`` cuts the training model down to ``predictions``.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]).
        num_classes: width of the softmax outputs.
        binary: one sigmoid unit instead (each output).
        auxiliary: add the two auxiliary classifiers as outputs ``aux1`` (on 4a) and ``aux2`` (on
            4d): the model then returns [predictions, aux1, aux2]. For training only.
        dropout: before the main output (the paper's 0.4).
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = conv_unit(inputs, 64, "stem_conv1", 3)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool1")(x)
    x = conv_unit(x, 64, "stem_conv2_reduce", 1)
    x = conv_unit(x, 192, "stem_conv2", 3)
    x = layers.MaxPooling2D(3, strides=2, padding="same", name="stem_pool2")(x)
    aux = []
    for module, filters in INCEPTION_FILTERS.items():
        if module in POOL_BEFORE:
            x = layers.MaxPooling2D(3, strides=2, padding="same", name=POOL_BEFORE[module])(x)
        x = inception_module(x, filters, f"inception_{module}")
        if auxiliary and module in AUX_AFTER:
            aux.append(auxiliary_classifier(x, num_classes, binary, AUX_AFTER[module]))
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    x = layers.Dropout(dropout, name="head_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, [outputs, *aux] if auxiliary else outputs, name=name)


FAMILY = ModelFamily(
    "googlenet", build_googlenet, "Szegedy et al. 2015; Trinh et al. 2023 (55 %, 60 epochs)",
    (5_993_735, 5_979_175, 14_560), aux_outputs=True,
    cpu=cpu_preset(390_871, QUARTER, why="6.0 M → 0.39 M parameters", epoch=1.36),
    figures={"googlenet_trinh": figure(55.0, TRINH)})
