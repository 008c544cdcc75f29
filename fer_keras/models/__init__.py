"""The model zoo: one module per architecture, each declaring its family (``FAMILY = ModelFamily(...)``),
and a registry that discovers them (``fer_keras.models.registry``).

The names below load on first use (PEP 562), so importing ``fer_keras.models.combine`` — plain
NumPy — or asking a CLI for ``--help`` does not start a Keras backend. Every registered family's
builder is a name here (``build_rmn``, ``build_fernet_s``, a plug-in's), derived from the registry;
the other names are the helpers below.
"""

import importlib

_HELPERS = {
    "MODEL_BUILDERS": "registry",
    "MODEL_FAMILIES": "registry",
    "build_model": "registry",
    "compile_model": "registry",
    "inference_model": "registry",
    "ModelFamily": "family",
    "CpuPreset": "family",
    "classifier_head": "blocks",
    "conv_block": "blocks",
    "conv_bn_relu": "blocks",
    "build_fernet": "fernet",
    "inception_module": "googlenet",
    "unfreeze_last_layers": "pattlite",
    "SpatialPyramidPooling": "layers",
    "ChannelPool": "layers",
    "PositionEmbedding": "layers",
}
"""Name → the module defining it, for the names that are not a family's builder."""


def _builders():
    """Builder name → builder, for every registered family (discovered on first use)."""
    from fer_keras.models.registry import MODEL_FAMILIES

    return {family.builder.__name__: family.builder for family in MODEL_FAMILIES.values()}


def __getattr__(name):
    if name == "__all__":
        return __dir__()
    if name in _HELPERS:
        value = getattr(importlib.import_module(f"fer_keras.models.{_HELPERS[name]}"), name)
    elif not name.startswith("_") and name in _builders():
        value = _builders()[name]
    else:
        raise AttributeError(f"module 'fer_keras.models' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted({*_HELPERS, *_builders()})
