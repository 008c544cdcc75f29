"""What the running process has: backend, devices and library versions (shared by training,
evaluation and the benchmark)."""

import platform
import sys

import numpy as np

from fer_keras import __version__

TRAINING_STEPS_PER_EXECUTION = 16
"""Training steps Keras runs per call into the backend (``compile(steps_per_execution=…)``): fewer
Python round trips per epoch for the small models of a CPU; ``python -m fer_keras.bench`` times it
against one step per call (the ``tensorflow-spe16`` row of ``results/bench``)."""


def training_steps_per_execution():
    """:data:`TRAINING_STEPS_PER_EXECUTION` under TensorFlow (where the benchmark measured it), else 1."""
    import keras

    return TRAINING_STEPS_PER_EXECUTION if keras.backend.backend() == "tensorflow" else 1


def gpu_available():
    """Whether the active Keras backend sees a GPU."""
    import keras

    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        return bool(tf.config.list_physical_devices("GPU"))
    if backend == "jax":
        import jax

        return any(d.platform == "gpu" for d in jax.devices())
    if backend == "torch":
        import torch

        return torch.cuda.is_available()
    return False


def versions():
    """Python, fer_keras, Keras, NumPy, the backend, and whichever of TensorFlow / JAX / torch are loaded."""
    import keras

    found = {"python": platform.python_version(), "fer_keras": __version__, "keras": keras.__version__,
             "numpy": np.__version__, "backend": keras.backend.backend()}
    for module in ("tensorflow", "jax", "torch"):
        if module in sys.modules:
            found[module] = getattr(sys.modules[module], "__version__", "?")
    return found
