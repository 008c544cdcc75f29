"""Small tensor-in, tensor-out helpers shared by the model builders: each block is defined here once
(``conv_bn_relu`` serves every family's Conv → BatchNorm → ReLU, with the family's own bias, momentum
and names), and what acts on built models (``scale_width``, ``unfreeze_last_layers``)."""

from fer_keras.errors import FERError
from fer_keras.models.lazy import keras, layers

MAIN_OUTPUT = "predictions"
"""The name of every model's output layer (``classifier_head``): the one inference uses."""

AUX_OUTPUTS = ("aux1", "aux2")
"""The auxiliary training outputs a family with ``aux_outputs`` adds after ``predictions`` (GoogLeNet's)."""

SPP_BINS = (1, 2, 4)
"""The grids of spatial pyramid pooling (``layers.SpatialPyramidPooling``, SPP-net's default)."""


def conv_block(x, filters, dropout=0.25, pool_padding="valid", name="block", bn_momentum=0.99):
    """Conv2D 3×3 same ReLU → BatchNorm → MaxPool 2 → Dropout (Białek et al. 2023, Tables 3, 5, 7).

    Layers are named ``{name}_conv``, ``{name}_bn``, ``{name}_pool``, ``{name}_drop``.
    ``pool_padding="same"`` lets the pool run on a 1×1 map (the six-layer CNN's last block and the
    VGG16 head's last block). ``bn_momentum`` is Keras' default 0.99 unless a builder needs its
    moving statistics to settle within a few hundred steps (small datasets).
    """
    x = layers.Conv2D(filters, 3, padding="same", activation="relu", name=f"{name}_conv")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    x = layers.MaxPooling2D(2, padding=pool_padding, name=f"{name}_pool")(x)
    return layers.Dropout(dropout, name=f"{name}_drop")(x)


def conv_bn_relu(x, filters, name, kernel_size=3, *, strides=1, padding="same", use_bias=False, bn_momentum=0.99,
                 zero_gamma=False, relu=True, conv_suffix="_conv"):
    """Conv2D (linear) → BatchNorm [→ ReLU], named ``{name}{conv_suffix}``, ``{name}_bn``, ``{name}_relu``.

    The families differ only in these arguments: FERNet and SPP-net use no bias and ``bn_momentum=0.9``;
    the CNN-LSTM (``padding``) and ResEmoteNet keep the bias (``use_bias=True``, the authors' PyTorch
    default); ResNet34 / RMN start a residual branch's last BatchNorm scale at 0 (``zero_gamma``) and
    end it without ReLU (``relu=False``); GoogLeNet names its convolution ``{name}`` (``conv_suffix=""``).
    """
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias,
                      name=f"{name}{conv_suffix}")(x)
    x = layers.BatchNormalization(momentum=bn_momentum, gamma_initializer="zeros" if zero_gamma else "ones",
                                  name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x) if relu else x


def dense_block(x, units, dropout=0.5, name="fc", bn_momentum=0.99):
    """Dense ReLU → BatchNorm → Dropout (the five-layer CNN's classifier, Białek Table 3)."""
    x = layers.Dense(units, activation="relu", name=name)(x)
    x = layers.BatchNormalization(momentum=bn_momentum, name=f"{name}_bn")(x)
    return layers.Dropout(dropout, name=f"{name}_drop")(x)


def classifier_head(x, num_classes=7, binary=False, name=MAIN_OUTPUT):
    """The output layer: Dense(num_classes) softmax, or Dense(1) sigmoid when ``binary`` (Białek §4.4).

    The layer computes in float32 so that a mixed-precision model still returns float32
    probabilities.
    """
    if binary:
        return layers.Dense(1, activation="sigmoid", dtype="float32", name=name)(x)
    if int(num_classes) < 2:
        raise FERError(
            f"num_classes must be at least 2 for a softmax head (got {num_classes}); "
            "use binary=True for a single sigmoid output"
        )
    return layers.Dense(int(num_classes), activation="softmax", dtype="float32", name=name)(x)


def image_input(input_shape, name="image"):
    """``keras.Input`` for an H×W×C image, with a readable error for a malformed shape."""
    shape = tuple(input_shape)
    if len(shape) != 3 or not all(isinstance(d, int) and d > 0 for d in shape):
        raise FERError(f"input_shape must be (height, width, channels) of positive ints, got {input_shape!r}")
    return keras.Input(shape=shape, name=name)


def scaled_filters(filters, width):
    """``filters`` × ``width``, rounded to a multiple of 8 (at least 8): the same count for the same
    ``filters``, so branches that meet in an Add or a Concatenate keep matching."""
    if width == 1:
        return int(filters)
    return max(8, int(round(filters * width / 8)) * 8)


def scale_width(model, width):
    """``model`` rebuilt with every Conv2D's ``filters`` and every hidden Dense's ``units`` scaled by
    ``width`` (:func:`scaled_filters`) — and a Reshape of a feature map into (-1, channels) tokens
    with it —, new random weights: the same topology, thinner — how a family
    whose builder has no width argument (the keras.applications bases, GoogLeNet) gets a CPU size.
    The output layers (``MAIN_OUTPUT`` and ``AUX_OUTPUTS``) keep their width."""
    keep = {MAIN_OUTPUT, *AUX_OUTPUTS}

    def thinner(layer):
        if isinstance(layer, keras.Model):  # a nested base (``transfer.pretrained_base``)
            return scale_width(layer, width)
        config = layer.get_config()
        for key in ("filters", "units"):
            if key in config and layer.name not in keep:
                config[key] = scaled_filters(config[key], width)
        if isinstance(layer, keras.layers.Reshape) and config["target_shape"][0] == -1:  # map → (tokens, channels)
            config["target_shape"] = (-1, *config["target_shape"][1:-1],
                                      scaled_filters(config["target_shape"][-1], width))
        return layer.__class__.from_config(config)

    return keras.models.clone_model(model, clone_function=thinner)


def dense_bn_relu(x, units, name="fc1"):
    """Dense (no bias) → BatchNorm → ReLU: a hidden layer that cannot die — BatchNorm centres every
    unit's pre-activation on each batch, so about half of the units fire on any batch, whatever the
    scale of the features below (a plain Dense → ReLU on un-normalised pooled features lost all 64 of
    its units in ResNet50V2-Trinh under a 2e-3 learning rate, 506 of 512 in SPP-net)."""
    x = layers.Dense(units, use_bias=False, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def unfreeze_last_layers(model, n, base):
    """Make the last ``n`` layers of ``model``'s nested backbone ``base`` trainable and keep every
    BatchNormalization layer in it frozen (inference mode), as PAtt-Lite's second stage does (Ngwe et
    al. 2024); the earlier layers stay frozen. ``n`` larger than the backbone unfreezes all of it.
    Returns ``model``; recompile it before training (Keras reads ``trainable`` at compile time). A
    family names its backbone in ``ModelFamily.backbone`` (its unfreeze policy).
    """
    try:
        backbone = model.get_layer(base)
    except ValueError:
        raise FERError(f"model {model.name!r} has no backbone layer {base!r} to unfreeze") from None
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise FERError(f"n must be a number of layers (0 or more), got {n!r}")
    backbone.trainable = True
    first = max(len(backbone.layers) - n, 0)
    for i, layer in enumerate(backbone.layers):
        layer.trainable = i >= first and not isinstance(layer, layers.BatchNormalization)
    return model
