"""CNN-LSTM models of the thesis (chapter 8): the first form (§8.1) and the final one (§8.5)."""

from fer_keras.models.blocks import classifier_head, conv_bn_relu, image_input
from fer_keras.models.family import THESIS_LEAKY, ModelFamily, cpu_preset, figure
from fer_keras.models.lazy import keras, layers


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
    x = conv_bn_relu(inputs, 32, "block1", padding="valid", use_bias=True)
    x = conv_bn_relu(x, 64, "block2", padding="valid", use_bias=True)
    x = layers.MaxPooling2D(2, name="block2_pool")(x)
    x = layers.Dropout(conv_dropout, name="block2_drop")(x)
    x = conv_bn_relu(x, 64, "block3", padding="same", use_bias=True)
    x = conv_bn_relu(x, 128, "block4", padding="same", use_bias=True)
    x = layers.MaxPooling2D(2, name="block4_pool")(x)
    x = layers.Dropout(conv_dropout, name="block4_drop")(x)
    x = conv_bn_relu(x, 128, "block5", padding="same", use_bias=True)
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
        x = conv_bn_relu(x, filters, f"block{i}", padding="same", use_bias=True)
        x = layers.MaxPooling2D(2, name=f"block{i}_pool")(x)
    x = layers.Reshape((-1, 128), name="to_sequence")(x)
    x = layers.LSTM(64, name="lstm1")(x)
    outputs = classifier_head(x, num_classes, binary)
    return keras.Model(inputs, outputs, name=name)


FAMILIES = (
    ModelFamily("cnn_lstm", build_cnn_lstm, "Ismail 2022 thesis §8.5 (text; states 457,031)", (474_247, 473_415, 832),
                min_input=16, cpu=cpu_preset(474_247, why="already CPU-sized", epoch=3.17),
                # the thesis over-sampled before splitting: its figures hold for the leaky protocol only
                figures={"cnn_lstm_v5_final": figure(82.7, THESIS_LEAKY),
                         "cnn_lstm_v5_final_thesis_protocol": figure(82.7, THESIS_LEAKY)}),
    ModelFamily("cnn_lstm_first", build_cnn_lstm_first, "Ismail 2022 thesis §8.1 (reconstructed)",
                (143_431, 142_983, 448), min_input=16, cpu=cpu_preset(143_431, why="already CPU-sized", epoch=1.17)),
)
