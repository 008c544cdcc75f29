"""CNN-LSTM models of the thesis (chapter 8): the first form (§8.1) and the final one (§8.5)."""

import keras
from keras import layers

from fer_keras.models.blocks import classifier_head, image_input


def _conv_bn_relu(x, filters, padding, name):
    """Conv2D 3×3 (linear) → BatchNorm → ReLU, named ``{name}_conv``, ``{name}_bn``, ``{name}_relu``."""
    x = layers.Conv2D(filters, 3, padding=padding, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_cnn_lstm(input_shape=(48, 48, 1), num_classes=7, binary=False, conv_dropout=0.1,
                   lstm_dropout=0.3, name="cnn_lstm"):
    """Final CNN-LSTM, thesis §8.5 (variation 5).

    Conv 32 (valid) → Conv 64 (valid) → MaxPool → Dropout → Conv 64 (same) → Conv 128 (same) →
    MaxPool → Dropout → Conv 128 (same) → MaxPool, each conv 3×3 → BN → ReLU; the 5×5×128 map is
    read as a 25-step sequence (Reshape(-1, 128)) → LSTM 128 (sequences) → Dropout → LSTM 64 →
    Dense 200 ReLU → Dropout → Dense(num_classes) softmax.
    The thesis states 457,031 trainable parameters; the text builds 474,247 (473,415 trainable)
    at 48×48×1 with 7 classes. The thesis trains it with Adam 2e-3, batch 64.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 20.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (Białek §4.4).
        conv_dropout: dropout after the first two pools.
        lstm_dropout: dropout after the first LSTM and after Dense 200.
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = _conv_bn_relu(inputs, 32, "valid", "block1")
    x = _conv_bn_relu(x, 64, "valid", "block2")
    x = layers.MaxPooling2D(2, name="block2_pool")(x)
    x = layers.Dropout(conv_dropout, name="block2_drop")(x)
    x = _conv_bn_relu(x, 64, "same", "block3")
    x = _conv_bn_relu(x, 128, "same", "block4")
    x = layers.MaxPooling2D(2, name="block4_pool")(x)
    x = layers.Dropout(conv_dropout, name="block4_drop")(x)
    x = _conv_bn_relu(x, 128, "same", "block5")
    x = layers.MaxPooling2D(2, name="block5_pool")(x)
    x = layers.Reshape((-1, 128), name="to_sequence")(x)
    x = layers.LSTM(128, return_sequences=True, name="lstm1")(x)
    x = layers.Dropout(lstm_dropout, name="lstm1_drop")(x)
    x = layers.LSTM(64, name="lstm2")(x)
    x = layers.Dense(200, activation="relu", name="fc1")(x)
    x = layers.Dropout(lstm_dropout, name="fc1_drop")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


def build_cnn_lstm_first(input_shape=(48, 48, 1), num_classes=7, binary=False, name="cnn_lstm_first"):
    """First CNN-LSTM form, thesis §8.1 — reconstructed (the thesis gives no layer table for it).

    3 × [Conv2D 3×3 same (32, 64, 128) → BN → ReLU → MaxPool 2] (48 → 24 → 12 → 6); the 6×6×128
    map is read as a 36-step sequence → LSTM 64 → Dense(num_classes) softmax.
    143,431 parameters (142,983 trainable) at 48×48×1 with 7 classes.

    Args:
        input_shape: H×W×C of the input image (values in [0, 1]); each side at least 8.
        num_classes: width of the softmax output.
        binary: one sigmoid unit instead (Białek §4.4).
        name: the model's name.
    """
    inputs = image_input(input_shape)
    x = inputs
    for i, filters in enumerate((32, 64, 128), start=1):
        x = _conv_bn_relu(x, filters, "same", f"block{i}")
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Reshape((-1, 128), name="to_sequence")(x)
    x = layers.LSTM(64, name="lstm1")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)
