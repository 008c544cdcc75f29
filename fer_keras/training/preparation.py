"""Training's first step: the data, loaded, cleaned, split and balanced, and the numbers that follow
from it (epochs and balancing on the synthetic demo, the batch size, the precision policy), as one
:class:`TrainingData`. Distillation's targets replace the training labels here too."""

import time
from dataclasses import dataclass, replace

import numpy as np

from fer_keras.data import load
from fer_keras.data.eda import clean
from fer_keras.data.stream import FolderIndex, index_folder
from fer_keras.errors import FERError
from fer_keras.models.presets import CPU_PRESETS
from fer_keras.runtime import mixed_precision_policy, training_steps_per_execution
from fer_keras.training import distill
from fer_keras.training.warm_start import warm_start
from fer_keras.training.distribute import placement as data_parallel_placement
from fer_keras.training.stages import leak_note

BUDGET_EPOCH_CAP = 1000
"""With ``--time-budget`` and no ``--epochs``, the budget alone decides when to stop."""


@dataclass(frozen=True)
class TrainingData:
    """The prepared data of a run and what was decided from it. ``protocol``/``leaky`` are the run's
    (a stage on the validation split makes an honest split LEAKY: ``leak`` says why)."""

    placement: object
    dataset: object
    cleaned: object
    prepared: object
    recipe: object
    epochs: int
    per_class: int | None
    batch_size: int
    steps_per_execution: int
    policy: str
    protocol: str
    leaky: bool
    leak: str | None
    teacher: object
    start: float
    """``time.perf_counter()`` when the data began loading: the run's seconds count from here."""
    init: object = None
    """``--init``'s checked :class:`fer_keras.training.warm_start.WarmStart`, or ``None``."""


def prepare(variant, data, seed, per_class=None, extra_train=None, extra_per_class=None):
    """The variant's model-ready arrays (see ``pre_proc_data``).

    ``per_class`` overrides the balancing target: images per class for "augment" (Białek's 8000)
    and positives for one-vs-rest (6000, with ``per_class // 6`` drawn from each other class).
    ``extra_train`` (``ExtraFaces``) joins the training split, at most ``extra_per_class`` per emotion.
    """
    from fer_keras.data.pre_proc_data import pre_proc_binary, pre_proc_data, pre_proc_stream

    data = clean(data, variant.cleaning)
    if variant.binary and data.label_set.name != "fer2013":
        raise FERError(f"one-vs-rest variant {variant.name} trains on FER2013's labels, not {data.label_set.name}'s; "
                       "choose a multi-class variant")
    if extra_train is not None and data.label_set.name != "fer2013":
        raise FERError(f"--extra-train folders name FER2013's seven emotions; {data.source} uses the "
                       f"{data.label_set.name} label set: drop --extra-train or train on FER2013")
    if variant.binary and extra_train is not None:
        raise FERError("--extra-train adds seven-class faces: use it with a seven-class variant, not a one-vs-rest one")
    if isinstance(data, FolderIndex):
        return data, pre_proc_stream(data, variant.sampling, variant.split, seed=seed)
    if variant.binary:
        n_positive = per_class or 6000
        return data, pre_proc_binary(data, variant.binary_emotion, variant.split, n_positive=n_positive,
                                     n_per_negative=n_positive // 6, seed=seed)
    return data, pre_proc_data(data, sampling=variant.sampling, protocol=variant.protocol,
                               split_method=variant.split, n_per_class=per_class or 8000, seed=seed,
                               extra_train=extra_train, extra_per_class=extra_per_class)


def demo_per_class(data):
    """On the small synthetic set, balance to its largest training class instead of 8000."""
    return int(np.bincount(data.labels[data.usage == "Training"]).max())


def set_precision(mixed, bfloat16_pays=True):
    """Set and return ``--mixed-precision``'s policy (``runtime.mixed_precision_policy``), saying which."""
    import keras

    policy, note = mixed_precision_policy(mixed, bfloat16_pays)
    if note:
        print(note)
    keras.mixed_precision.set_global_policy(policy)
    return policy


def prepare_training(options):
    """The devices, then the seed, then the data of the run ``options`` asks for (a
    :class:`~fer_keras.training.options.TrainOptions`), prepared; says what it decided for the demo
    data and warns about a LEAKY protocol."""
    import keras

    placement = data_parallel_placement(options.devices, options.multi_worker)  # wrong counts fail before output
    keras.utils.set_random_seed(options.seed)
    start = time.perf_counter()
    dataset = (index_folder(options.data, label_set=options.stream_labels) if options.stream
               else load(options.data, labels=options.labels, ferplus_mode=options.ferplus_mode))
    epochs, per_class = _demo_numbers(options, dataset)
    batch_size = options.batch_size or options.recipe.batch_size
    placement.check_batch_size(batch_size)
    steps_per_execution = placement.steps_per_execution(training_steps_per_execution())
    recipe = replace(options.recipe, batch_size=batch_size)
    preset = CPU_PRESETS.get(options.variant.model) if options.size == "cpu" else None
    policy = set_precision(options.mixed_precision, bfloat16_pays=preset is None or preset.bfloat16)
    cleaned, prepared = prepare(options.variant, dataset, options.seed, per_class, options.extra_train,
                                options.extra_per_class)
    protocol, leaky, leak = _protocol(prepared, options.stages)
    teacher = None
    if options.teachers:
        teacher = distill.teacher_targets(options.teachers, prepared, dataset, recipe, options.variant)
        prepared = replace(prepared, y_train=teacher.targets)
        print(f"distillation: {len(options.teachers)} teacher(s) {teacher.describe()}")
    init = warm_start(options.init, prepared, dataset, options.variant)
    if init:
        print(f"warm start: the weights of {init.source} ({init.model_file})")
    if prepared.extra:
        print(f"extra training faces: {prepared.extra['added']} added of {prepared.extra['images']} "
              f"({prepared.extra['test_copies']} exact copies of validation/test images refused, "
              f"{prepared.extra['no_face']} without a face, {prepared.extra['over_per_class']} over --extra-per-class)")
    return TrainingData(placement, dataset, cleaned, prepared, recipe, epochs, per_class, batch_size,
                        steps_per_execution, policy, protocol, leaky, leak, teacher, start, init)


def _demo_numbers(options, dataset):
    """(epochs, balancing target): as asked, else the variant's — its short demo on the synthetic set,
    where "augment" and one-vs-rest balance to the largest class instead of 8000 / 6000."""
    epochs, per_class, variant = options.epochs, options.per_class, options.variant
    if epochs is None and options.time_budget is not None:
        epochs = BUDGET_EPOCH_CAP
    elif epochs is None:
        epochs = variant.demo_epochs if options.synthetic else variant.epochs
        if options.synthetic:
            print(f"synthetic demo data: {epochs} epochs (the paper's {variant.epochs} apply to real data; "
                  "--epochs overrides)")
    if per_class is None and options.synthetic and (variant.sampling == "augment" or variant.binary):
        per_class = demo_per_class(dataset)
        print(f"synthetic demo data: balancing to {per_class} images per class (8000 / 6000 on real data; "
              "--per-class overrides)")
    return epochs, per_class


def _protocol(prepared, stages):
    """(protocol, leaky, leak note) of the run, with its warnings: the data's protocol, or "staged" when a
    stage fits the validation split."""
    if prepared.leaky:
        print("WARNING: leaky protocol — test images were over-sampled into training; "
              "numbers from this run are for comparison only")
    leak = leak_note(stages)
    if leak:
        print(f"WARNING: {leak}; numbers from this run compare only with other LEAKY runs")
    protocol, leaky = ("staged", True) if leak else (prepared.protocol, prepared.leaky)
    return protocol, leaky, leak
