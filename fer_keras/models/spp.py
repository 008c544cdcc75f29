"""SPP-net (He et al. 2015), one of the three members of Bakiasi & Muça's (2024) majority vote: a CNN
whose last feature map goes through spatial pyramid pooling, so one model takes images of any size.

``SpatialPyramidPooling`` max-pools the map into 1×1, 2×2 and 4×4 grids of (nearly) equal bins and
concatenates them: C·(1 + 4 + 16) features whatever the map's height and width. It is a registered
Keras layer built from ``keras.ops`` (every backend; loads in safe mode).
"""

import keras
from keras import layers, ops

from fer_keras.models.blocks import classifier_head, image_input
from fer_keras.models.fernet import conv_bn_relu

SPP_BINS = (1, 2, 4)


@keras.saving.register_keras_serializable(package="fer_keras")
class SpatialPyramidPooling(layers.Layer):
    """Max-pool an N×H×W×C map into ``bins`` grids (n×n each) and concatenate: N×C·Σn²."""

    def __init__(self, bins=SPP_BINS, **kwargs):
        super().__init__(**kwargs)
        self.bins = tuple(int(n) for n in bins)
        if not self.bins or min(self.bins) < 1:
            raise ValueError(f"bins must be positive grid sizes, got {bins!r}")

    def call(self, x):
        height, width = ops.shape(x)[1], ops.shape(x)[2]
        pooled = []
        for n in self.bins:
            for i in range(n):
                top, bottom = (i * height) // n, ((i + 1) * height + n - 1) // n
                for j in range(n):
                    left, right = (j * width) // n, ((j + 1) * width + n - 1) // n
                    pooled.append(ops.max(x[:, top:bottom, left:right, :], axis=(1, 2)))
        return ops.concatenate(pooled, axis=-1)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], input_shape[-1] * sum(n * n for n in self.bins))

    def get_config(self):
        return {**super().get_config(), "bins": list(self.bins)}


def build_spp_net(input_shape=(48, 48, 1), num_classes=7, binary=False, widths=(32, 64, 128, 256), bins=SPP_BINS,
                  dense_units=512, dropout=0.5, name="spp_net"):
    """A CPU-sized SPP-net: ``len(widths)`` stages of conv_bn_relu (a 2×2 max-pool after all but the
    last) → SpatialPyramidPooling(``bins``) → Dense ``dense_units`` ReLU → Dropout → Dense softmax.

    ``input_shape`` may leave height and width open, ``(None, None, 1)``: the model then classifies
    images of any size of at least 8 pixels. At 48×48×1 with 7 classes: 3,145,895 parameters.
    Bakiasi & Muça report 78.5 % for their SPP-net on 400,000 AffectNet images (224×224 RGB); the
    exact layers of theirs are not published, so this is He et al.'s idea at FER2013's scale.

    Args:
        input_shape: H×W×C (H and W may be None).
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead.
        widths: filters of each stage.
        bins: the pyramid's grid sizes.
        dense_units: width of the hidden Dense layer.
        dropout: after it.
        name: the model's name.
    """
    shape = tuple(input_shape)
    inputs = keras.Input(shape=shape, name="image") if None in shape[:2] else image_input(shape)
    x = inputs
    for stage, filters in enumerate(widths, start=1):
        x = conv_bn_relu(x, filters, name=f"stage{stage}")
        if stage < len(widths):
            x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    x = SpatialPyramidPooling(bins, name="spp")(x)
    x = layers.Dense(dense_units, activation="relu", name="fc1")(x)
    x = layers.Dropout(dropout, name="fc1_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)
