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


BFLOAT16_CPU_FLAGS = ("amx_bf16", "avx512_bf16")
"""CPU features that run bfloat16 matrix products natively (Intel AMX, AVX512-BF16)."""


def cpu_has_bfloat16(cpuinfo="/proc/cpuinfo"):
    """Whether this CPU computes in bfloat16 natively (Linux: read from ``cpuinfo``'s flags)."""
    try:
        with open(cpuinfo, encoding="utf-8", errors="replace") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    return any(flag in flags for flag in BFLOAT16_CPU_FLAGS)


def mixed_precision_policy(mixed, bfloat16_pays=True):
    """``--mixed-precision``'s Keras policy here: ``mixed_float16`` on a GPU, ``mixed_bfloat16`` on a CPU
    with native bfloat16 (1.2–1.5× less CPU per training image for FERNet, ``results/COMMANDS.md``) unless
    ``bfloat16_pays`` is False (a model measured faster in float32, ``CpuPreset.bfloat16``),
    ``float32`` otherwise; and a note saying which, or ``None``."""
    if not mixed:
        return "float32", None
    if gpu_available():
        return "mixed_float16", None
    native = cpu_has_bfloat16()
    if native and not bfloat16_pays:
        return "float32", "mixed precision: float32 for this model on a CPU — it trains faster than with bfloat16 here"
    if native:
        return "mixed_bfloat16", "mixed precision: bfloat16 on this CPU (it has native bfloat16); outputs stay float32"
    return "float32", "mixed precision: no GPU and no native bfloat16 on this CPU — float32 is faster here; using it"


def tflite_interpreter(path, num_threads):
    """LiteRT's interpreter (``ai_edge_litert``) when installed, else TensorFlow's own."""
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:
        from fer_keras.cli import import_keras_quietly

        import_keras_quietly()
        import tensorflow as tf
        import warnings

        with warnings.catch_warnings():  # "tf.lite.Interpreter is deprecated": still TF 2.21's own
            warnings.simplefilter("ignore")
            return tf.lite.Interpreter(model_path=str(path), num_threads=num_threads)
    return Interpreter(model_path=str(path), num_threads=num_threads)


def versions():
    """Python, fer_keras, Keras, NumPy, the backend, and whichever of TensorFlow / JAX / torch are loaded."""
    import keras

    found = {"python": platform.python_version(), "fer_keras": __version__, "keras": keras.__version__,
             "numpy": np.__version__, "backend": keras.backend.backend()}
    for module in ("tensorflow", "jax", "torch"):
        if module in sys.modules:
            found[module] = getattr(sys.modules[module], "__version__", "?")
    return found
