"""SPP-net (He et al. 2015), one of the three members of Bakiasi & Muça's (2024) majority vote: a CNN
whose last feature map goes through spatial pyramid pooling, so one model takes images of any size.

``SpatialPyramidPooling`` (``fer_keras.models.layers``) max-pools the map into 1×1, 2×2 and 4×4
grids of (nearly) equal bins and concatenates them: C·(1 + 4 + 16) features whatever the map's
height and width.
"""

from fer_keras.models.blocks import SPP_BINS, classifier_head, conv_bn_relu, dense_bn_relu, image_input
from fer_keras.models.family import BAKIASI_AFFECTNET, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers


def build_spp_net(input_shape=(48, 48, 1), num_classes=7, binary=False, widths=(32, 64, 128, 256), bins=SPP_BINS,
                  dense_units=512, dropout=0.5, head_norm=True, name="spp_net"):
    """A CPU-sized SPP-net: ``len(widths)`` stages of conv_bn_relu (a 2×2 max-pool after all but the
    last) → SpatialPyramidPooling(``bins``) → Dense ``dense_units`` ReLU → Dropout → Dense softmax.

    ``input_shape`` may leave height and width open, ``(None, None, 1)``: the model then classifies
    images of any size of at least 8 pixels. At 48×48×1 with 7 classes: 3,147,431 parameters
    (3,145,895 with ``head_norm=False``).
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
        head_norm: the hidden layer as Dense → BatchNorm → ReLU (``blocks.dense_bn_relu``), which cannot
            die; ``False`` gives the plain Dense ReLU, whose units died under the modern recipe (issue 21).
        name: the model's name.
    """
    from fer_keras.models.layers import SpatialPyramidPooling  # (a Layer subclass: imports Keras)

    shape = tuple(input_shape)
    inputs = keras.Input(shape=shape, name="image") if None in shape[:2] else image_input(shape)
    x = inputs
    for stage, filters in enumerate(widths, start=1):
        x = conv_bn_relu(x, filters, f"stage{stage}", bn_momentum=0.9)
        if stage < len(widths):
            x = layers.MaxPooling2D(2, name=f"stage{stage}_pool")(x)
    x = SpatialPyramidPooling(bins, name="spp")(x)
    x = (dense_bn_relu(x, dense_units, name="fc1") if head_norm
         else layers.Dense(dense_units, activation="relu", name="fc1")(x))
    x = layers.Dropout(dropout, name="fc1_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILY = ModelFamily(
    "spp_net", build_spp_net, "He et al. 2015; Bakiasi & Muça 2024 (member of the vote)", (3_147_431, 3_145_447, 1_984),
    cpu=cpu_preset(3_147_431, why="already CPU-sized", epoch=1.51),
    figures={"spp_net_trinh": figure(78.5, BAKIASI_AFFECTNET)})
