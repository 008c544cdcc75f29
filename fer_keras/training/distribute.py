"""Data-parallel training on the engine's own machinery: ``keras.distribution.DataParallel`` under
JAX, ``tf.distribute.MirroredStrategy`` / ``MultiWorkerMirroredStrategy`` under TensorFlow.

The global batch is the recipe's ``batch_size`` (``--batch-size``), split evenly across the
replicas; the learning rate is the recipe's, unchanged (scale it yourself with
``--set learning_rate=...``). One device (the default) sets up nothing: training is exactly the
single-device code path.

Several workers read the engine's own configuration: ``TF_CONFIG`` for TensorFlow, and for JAX
``keras.distribution.initialize()`` (``KERAS_DISTRIBUTION_JOB_ADDRESSES`` / ``_NUM_PROCESSES`` /
``_PROCESS_ID``, else ``jax.distributed``'s own detection: ``JAX_COORDINATOR_ADDRESS``, SLURM,
Open MPI, Kubernetes, Cloud TPU).

Testing aid: ``FER_KERAS_VIRTUAL_CPUS=N`` splits the host CPU into N devices (TensorFlow logical
devices; JAX's ``jax_num_cpu_devices``), which must happen before the backend starts.
"""

import contextlib
import json
import os
from dataclasses import dataclass, field

from fer_keras.errors import FERError

VIRTUAL_CPUS_ENV = "FER_KERAS_VIRTUAL_CPUS"


def parse_devices(value):
    """``--devices``: ``None`` (one device), a positive integer, or ``"all"``."""
    if value is None or value == "all":
        return value
    try:
        count = int(value)
    except (TypeError, ValueError):
        count = 0
    if isinstance(value, bool) or count < 1 or str(count) != str(value).strip():
        raise FERError(f"--devices must be a positive integer or 'all', got {value!r}")
    return count


def virtual_cpus():
    """The ``FER_KERAS_VIRTUAL_CPUS`` request (0: none)."""
    value = os.environ.get(VIRTUAL_CPUS_ENV, "")
    if not value:
        return 0
    if not value.isdigit() or int(value) < 1:
        raise FERError(f"{VIRTUAL_CPUS_ENV} must be a positive integer, got {value!r}")
    return int(value)


def _split_host_cpu(backend):
    count = virtual_cpus()
    if not count:
        return
    try:
        if backend == "tensorflow":
            import tensorflow as tf

            (cpu, *_) = tf.config.list_physical_devices("CPU")
            if len(tf.config.get_logical_device_configuration(cpu) or []) != count:
                tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * count)
        elif backend == "jax":
            import jax

            if jax.config.jax_num_cpu_devices != count:
                jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError as err:  # the backend already started
        raise FERError(f"{VIRTUAL_CPUS_ENV}={count}: set it before {backend} starts ({err})") from None


def visible_devices():
    """The devices data parallelism would use, e.g. ``["/device:GPU:0", ...]`` (TensorFlow) or
    ``["cpu:0", "cpu:1"]`` (JAX): the accelerators if there are any, else the CPU(s). Under JAX
    after ``keras.distribution.initialize()`` these are all processes' devices."""
    import keras

    backend = keras.backend.backend()
    _split_host_cpu(backend)
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))]
    if backend == "jax":
        return list(keras.distribution.list_devices())
    return ["default"]  # the torch backend: one device here (use torchrun's DDP outside fer_keras)


@dataclass(frozen=True)
class Placement:
    """Where training runs: ``engine`` is None for one device, else the strategy / distribution name.
    ``scope()`` wraps model build + compile (TensorFlow) and, under JAX, ``fit`` too."""

    engine: str | None = None
    devices: tuple = ()
    workers: int = 1
    _strategy: object = field(default=None, repr=False, compare=False)

    def scope(self):
        return contextlib.nullcontext() if self._strategy is None else self._strategy.scope()

    @property
    def replicas(self):
        return max(1, len(self.devices))

    def check_batch_size(self, batch_size):
        """The global batch must split evenly across the replicas."""
        if batch_size % self.replicas:
            raise FERError(f"--batch-size {batch_size} does not split across {self.replicas} devices; "
                           f"use a multiple of {self.replicas}")

    def steps_per_execution(self, steps):
        """``steps`` per call into the backend, but 1 under a ``tf.distribute`` strategy: with
        TensorFlow 2.21 / Keras 3.15 a MirroredStrategy fit with ``steps_per_execution > 1`` fails
        ("You must feed a value for placeholder tensor ... while/cond/Placeholder")."""
        return 1 if self.engine in ("MirroredStrategy", "MultiWorkerMirroredStrategy") else steps

    def split_evenly(self, x, y, sample_weight=None):
        """Every batch must split evenly across the replicas: JAX's ``DataParallel`` refuses a short
        last batch that does not divide, and Keras 3.15's ``MirroredStrategy`` build step averages
        the first batch's per-replica parts, which fails when they differ in size. With a batch size
        that is a multiple of the replicas (:meth:`check_batch_size`), padding ``x``/``y`` to a
        multiple of the replica count with at most ``replicas - 1`` repeated rows of sample weight 0
        is enough: the weighted loss ignores them except in its batch-mean denominator, the
        (unweighted) accuracy counts them, at most ``replicas - 1`` rows per epoch. Returns
        ``(x, y, sample_weight)``: new arrays, or the inputs unchanged on one device."""
        if self.engine is None:
            return x, y, sample_weight
        import numpy as np

        extra = -len(x) % self.replicas
        weights = np.ones(len(x), np.float32) if sample_weight is None else sample_weight
        rows = np.concatenate([np.arange(len(x)), np.arange(extra) % len(x)])
        return x[rows], y[rows], np.concatenate([weights, np.zeros(extra, np.float32)]).astype(np.float32)

    def to_dict(self):
        return {"engine": self.engine, "devices": list(self.devices), "replicas": self.replicas,
                "workers": self.workers,
                "global_batch": "--batch-size, split across the replicas; learning rate unchanged"}


def placement(devices=None, multi_worker=False):
    """Check ``devices`` (``None``/1: one device, N, or ``"all"``) against what is visible and set up
    the engine's data parallelism; returns a :class:`Placement`. Raises :class:`FERError` (one line)
    for a count larger than the visible devices or a backend without data parallelism here."""
    import keras

    devices = parse_devices(devices)
    backend = keras.backend.backend()
    if multi_worker:
        return _multi_worker(backend, devices)
    if devices in (None, 1):  # today's single-device path: nothing set up, nothing listed
        return Placement()
    visible = visible_devices()
    count = len(visible) if devices == "all" else devices
    if count > len(visible):
        raise FERError(f"--devices {devices}: only {len(visible)} visible to {backend} ({', '.join(visible)})")
    if backend not in ("tensorflow", "jax"):
        raise FERError(f"--devices needs the tensorflow or jax backend (KERAS_BACKEND), not {backend}")
    chosen = tuple(visible[:count])
    if count == 1:  # "all" with one device visible
        return Placement(devices=chosen)
    if backend == "jax":
        return Placement("DataParallel", chosen, 1, keras.distribution.DataParallel(devices=list(chosen)))
    import tensorflow as tf

    return Placement("MirroredStrategy", chosen, 1, tf.distribute.MirroredStrategy(devices=list(chosen)))


def _multi_worker(backend, devices):
    if devices not in (None, "all"):
        raise FERError("--multi-worker uses every device each worker sees; leave out --devices")
    if backend == "tensorflow":
        try:
            cluster = json.loads(os.environ.get("TF_CONFIG", ""))["cluster"]
        except (ValueError, KeyError, TypeError):
            raise FERError("--multi-worker under TensorFlow reads TF_CONFIG, which is missing or has no "
                           "'cluster'; see the README, 'Several devices and machines'") from None
        if not isinstance(cluster, dict) or not all(
                isinstance(tasks, list) and all(isinstance(t, str) for t in tasks) for tasks in cluster.values()):
            raise FERError("TF_CONFIG's 'cluster' must be an object of lists of host:port strings, e.g. "
                           '{"worker": ["host1:12345", "host2:12345"]}, ' + f"got {json.dumps(cluster)[:120]}; see "
                           "the README, 'Several devices and machines'")
        _split_host_cpu(backend)
        strategy = _multi_worker_mirrored_strategy()
        workers = sum(len(tasks) for role, tasks in cluster.items() if role in ("chief", "worker"))
        local = visible_devices()
        return Placement("MultiWorkerMirroredStrategy", tuple(local), workers, strategy)
    if backend == "jax":
        import jax
        import keras

        _split_host_cpu(backend)
        try:
            keras.distribution.initialize()
        except (ValueError, RuntimeError) as err:
            raise FERError(f"--multi-worker under JAX: {err}".splitlines()[0]) from None
        every = visible_devices()
        return Placement("DataParallel", tuple(every), jax.process_count(),
                         keras.distribution.DataParallel(devices=every))
    raise FERError(f"--multi-worker needs the tensorflow or jax backend (KERAS_BACKEND), not {backend}")


def _multi_worker_mirrored_strategy():
    """``tf.distribute.MultiWorkerMirroredStrategy`` whose ``reduce`` takes what Keras 3.15's
    TensorFlow trainer gives it: ``fit`` fails on two workers without this (tried on loopback,
    TensorFlow 2.21), first "Attempt to convert a value (PerReplica ...)" (its symbolic build
    reduces the whole (x, y) batch, a nested structure), then "Invalid reduction dimension 0 for
    input with 0 dimensions" (it means each scalar metric over ``axis=0``). Reduced here one value
    at a time, scalars over no axis."""
    import tensorflow as tf

    class MultiWorkerMirroredStrategy(tf.distribute.MultiWorkerMirroredStrategy):
        def reduce(self, reduce_op, value, axis=None):
            def one(v):
                scalar = self.experimental_local_results(v)[0].shape.rank == 0
                return super(MultiWorkerMirroredStrategy, self).reduce(reduce_op, v, None if scalar else axis)

            return tf.nest.map_structure(one, value)

    return MultiWorkerMirroredStrategy()
