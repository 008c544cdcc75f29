"""``keras``, ``layers`` and ``ops`` for the model modules, imported on their first attribute access.

Model families register themselves in their builder modules (``registry.discover`` imports them all), and
``python -m fer_keras.train --list`` or ``--help`` must answer before Keras — and with it TensorFlow or
JAX — is loaded. So the builder modules write ``from fer_keras.models.lazy import keras, layers`` instead of
``import keras``: the names read the same inside the builders, and the backend starts when the first
layer is built. Nothing is put in ``sys.modules`` until then.

A module that needs Keras at import time — a ``keras.layers.Layer`` subclass, as in
``fer_keras.models.layers`` — imports it directly; the builders import such a module inside the
function that uses it.
"""

from fer_keras.cli import lazy_import

keras, layers, ops = lazy_import("keras"), lazy_import("keras.layers"), lazy_import("keras.ops")
