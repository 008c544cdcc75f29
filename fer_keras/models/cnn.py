"""The plain CNNs of Białek et al. (2023): five-layer (Table 3) and six-layer (Table 5)."""

from fer_keras.models.blocks import classifier_head, conv_block, dense_block, image_input
from fer_keras.models.family import QUARTER, ModelFamily, bialek_figures, cpu_preset
from fer_keras.models.lazy import keras, layers

FIVE_LAYER_FILTERS = (128, 256, 512, 1024, 1024)


def five_conv_blocks(x, dropout):
    """Białek's five conv blocks (FIVE_LAYER_FILTERS), shared by the five- and six-layer CNNs."""
    for i, filters in enumerate(FIVE_LAYER_FILTERS, start=1):
        x = conv_block(x, filters, dropout, name=f"block{i}")
    return x


def build_five_layer_cnn(input_shape=(48, 48, 1), num_classes=7, binary=False, dropout=0.25,
                         dense_dropout=0.5, name="five_layer_cnn"):
    """Five-layer CNN, Białek et al. 2023, Table 3.

    5 × conv_block (128, 256, 512, 1024, 1024 filters; 48 → 24 → 12 → 6 → 3 → 1) → Flatten →
    Dense 512 → BN → Dropout → Dense 256 → BN → Dropout → Dense(num_classes) softmax.
    At 48×48×1 with 7 classes: 16,307,207 parameters, 16,299,783 trainable (the table's totals).
    The paper trains it with Adam 1e-3, batch 32, categorical cross-entropy.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 32.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (one-vs-rest models, Białek §4.4).
        dropout: dropout after each convolutional block.
        dense_dropout: dropout after each dense layer.
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = five_conv_blocks(inputs, dropout)
    x = layers.Flatten(name="flatten")(x)
    x = dense_block(x, 512, dense_dropout, name="fc1")
    x = dense_block(x, 256, dense_dropout, name="fc2")
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


def build_six_layer_cnn(input_shape=(48, 48, 1), num_classes=7, binary=False, dropout=0.25,
                        name="six_layer_cnn"):
    """Six-layer CNN, Białek et al. 2023, Table 5.

    The five-layer CNN's five conv blocks plus a sixth (2048 filters, its MaxPool padded "same" as
    it runs on a 1×1 map) → GlobalAveragePooling2D → Dense(num_classes) softmax.
    At 48×48×1 with 7 classes: 34,545,159 parameters, 34,535,175 trainable (the table's totals).

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 32.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (Białek §4.4).
        dropout: dropout after each convolutional block.
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = five_conv_blocks(inputs, dropout)
    x = conv_block(x, 2048, dropout, pool_padding="same", name="block6")
    x = layers.GlobalAveragePooling2D(name="gap")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


BASELINE_FILTERS = (32, 64, 128)


def build_baseline_cnn(input_shape=(48, 48, 1), num_classes=7, binary=False, dropout=0.25, dense_units=128,
                       dense_dropout=0.5, name="baseline_cnn"):
    """A small three-block CNN: the classic FER2013 starting point, and this project's fast baseline.

    3 × conv_block (32, 64, 128 filters; 48 → 24 → 12 → 6) → Flatten → Dense 128 → BN → Dropout →
    Dense(num_classes) softmax; the same blocks as Białek's CNNs at a size that trains in minutes
    on a CPU (684,935 parameters at 48×48×1 with 7 classes). Its BatchNorm momentum is 0.9
    (PyTorch's default) rather than Keras' 0.99, so the moving statistics settle within an epoch
    even on a few thousand images. Not from a seed paper:
    it is the yardstick the seeds' models should beat.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 8.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        dropout: dropout after each convolutional block.
        dense_units: width of the hidden dense layer.
        dense_dropout: dropout after it.
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = inputs
    for i, filters in enumerate(BASELINE_FILTERS, start=1):
        x = conv_block(x, filters, dropout, name=f"block{i}", bn_momentum=0.9)
    x = layers.Flatten(name="flatten")(x)
    x = dense_block(x, dense_units, dense_dropout, name="fc1", bn_momentum=0.9)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILIES = (
    ModelFamily("baseline_cnn", build_baseline_cnn, "this project's small yardstick", (684_935, 684_231, 704),
                cpu=cpu_preset(684_935, recipe={}, why="already CPU-sized")),
    ModelFamily("five_layer_cnn", build_five_layer_cnn, "Białek et al. 2023, Table 3", (16_307_207, 16_299_783, 7_424),
                min_input=32, cpu=cpu_preset(1_023_239, QUARTER, why="16.3 M → 1.0 M parameters", epoch=1.22),
                figures=bialek_figures("five_layer", (67.69, 69.77, 70.09, 71.43), 0.63)),
    ModelFamily("six_layer_cnn", build_six_layer_cnn, "Białek et al. 2023, Table 5", (34_545_159, 34_535_175, 9_984),
                min_input=32, cpu=cpu_preset(2_166_663, QUARTER, why="34.5 M → 2.2 M parameters", epoch=1.43),
                figures=bialek_figures("six_layer", (67.63, 69.02, 70.61, 71.11), 0.75)),
)
