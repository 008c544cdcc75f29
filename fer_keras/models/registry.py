"""One registry of model names: ``build_model(name, **kwargs)`` and ``compile_model``."""

import keras

from fer_keras.errors import FERError
from fer_keras.models.attention import build_attention_vit
from fer_keras.models.cnn import build_baseline_cnn, build_five_layer_cnn, build_six_layer_cnn
from fer_keras.models.cnn_lstm import build_cnn_lstm, build_cnn_lstm_first
from fer_keras.models.fernet import fernet_preset
from fer_keras.models.transfer import build_resnet50_transfer, build_vgg16_transfer

MODEL_BUILDERS = {
    "baseline_cnn": build_baseline_cnn,
    "five_layer_cnn": build_five_layer_cnn,
    "six_layer_cnn": build_six_layer_cnn,
    "vgg16_transfer": build_vgg16_transfer,
    "resnet50_transfer": build_resnet50_transfer,
    "cnn_lstm": build_cnn_lstm,
    "cnn_lstm_first": build_cnn_lstm_first,
    "attention_vit": build_attention_vit,
    "fernet_t": fernet_preset("t"),
    "fernet_s": fernet_preset("s"),
    "fernet_m": fernet_preset("m"),
}
"""Model name → builder; every builder takes ``input_shape``, ``num_classes``, ``binary``, ``name``."""


def build_model(name, /, **kwargs):
    """Build the registered model ``name`` (uncompiled); ``kwargs`` go to its builder.

    ``name`` is positional-only, so ``build_model("cnn_lstm", name="run3")`` renames the model.
    """
    try:
        builder = MODEL_BUILDERS[name]
    except (KeyError, TypeError):
        raise FERError(f"unknown model {name!r}; known models: {', '.join(MODEL_BUILDERS)}") from None
    return builder(**kwargs)


def compile_model(model, optimizer="adam", learning_rate=1e-3, binary=None, label_smoothing=0.0):
    """Compile with the seeds' recipe: ``optimizer`` (a name built with ``learning_rate``, or an
    optimizer instance used as is), categorical cross-entropy with ``label_smoothing`` (binary
    cross-entropy for a one-unit sigmoid head) and accuracy. ``binary=None`` reads it from the
    model's output width.
    Returns the model.
    """
    one_unit = model.outputs[0].shape[-1] == 1
    if binary is None:
        binary = one_unit
    elif bool(binary) != one_unit:
        raise FERError(
            f"binary={binary} does not match model {model.name!r}, whose output has "
            f"{model.outputs[0].shape[-1]} unit(s)"
        )
    if isinstance(optimizer, str):
        try:
            optimizer = keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": learning_rate}})
        except ValueError:
            raise FERError(f"unknown optimizer {optimizer!r}; use a Keras optimizer name such as 'adam'") from None
    loss = (keras.losses.BinaryCrossentropy() if binary
            else keras.losses.CategoricalCrossentropy(label_smoothing=label_smoothing))
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    return model
