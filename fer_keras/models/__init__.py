"""The model zoo: one ``build_*`` function per architecture and a registry of their names.

The names below load on first use (PEP 562), so importing ``fer_keras.models.combine`` — plain
NumPy — or asking a CLI for ``--help`` does not start a Keras backend.
"""

import importlib

_WHERE = {
    "build_attention_vit": "attention",
    "classifier_head": "blocks",
    "conv_block": "blocks",
    "build_baseline_cnn": "cnn",
    "build_five_layer_cnn": "cnn",
    "build_six_layer_cnn": "cnn",
    "build_cnn_lstm": "cnn_lstm",
    "build_cnn_lstm_first": "cnn_lstm",
    "build_fernet": "fernet",
    "build_googlenet": "googlenet",
    "inception_module": "googlenet",
    "build_inceptionv3_transfer": "inception",
    "build_pattlite": "pattlite",
    "unfreeze_last_layers": "pattlite",
    "MODEL_BUILDERS": "registry",
    "MODEL_FAMILIES": "registry",
    "ModelFamily": "registry",
    "build_model": "registry",
    "compile_model": "registry",
    "inference_model": "registry",
    "build_resnet50_transfer": "transfer",
    "build_vgg16_transfer": "transfer",
    "build_resemotenet": "resemotenet",
    "build_cbam_resnet34": "rmn",
    "build_resnet34": "rmn",
    "build_rmn": "rmn",
    "build_resnet50v2_trinh": "trinh",
    "build_spp_net": "spp",
    "build_patch_vit": "vit",
    "SpatialPyramidPooling": "layers",
    "ChannelPool": "layers",
    "PositionEmbedding": "layers",
}

__all__ = sorted(_WHERE)


def __getattr__(name):
    if name not in _WHERE:
        raise AttributeError(f"module 'fer_keras.models' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"fer_keras.models.{_WHERE[name]}"), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
