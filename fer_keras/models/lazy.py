"""``keras``, ``layers`` and ``ops`` for the model modules, imported on their first attribute access.

Model families register themselves in their builder modules (``registry.discover`` imports them all), and
``python -m fer_keras.train --list`` or ``--help`` must answer before Keras — and with it TensorFlow or
JAX — is loaded. So the builder modules write ``from fer_keras.models.lazy import keras, layers`` instead of
``import keras``: the names read the same inside the builders, and the backend starts when the first
layer is built. Nothing is put in ``sys.modules`` until then.

``fer_keras.cli.lazy_import`` defers a top-level package the same way, but it finds its module's spec
first, and finding ``keras.layers`` imports ``keras``: so the submodules are deferred here by name.

A module that needs Keras at import time — a ``keras.layers.Layer`` subclass, as in
``fer_keras.models.layers`` — imports it directly; the builders import such a module inside the
function that uses it.
"""

import importlib


class LazyModule:
    """Stands for the module ``name`` and imports it at the first attribute read."""

    def __init__(self, name):
        self._name = name

    def __getattr__(self, attribute):
        return getattr(importlib.import_module(self._name), attribute)

    def __repr__(self):
        return f"<lazy module {self._name!r}>"


keras = LazyModule("keras")
layers = LazyModule("keras.layers")
ops = LazyModule("keras.ops")
