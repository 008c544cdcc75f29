"""What a training run is asked to do, resolved and checked once: :class:`TrainOptions`.

``python -m fer_keras.train`` and ``train()`` called from Python both go through
:meth:`TrainOptions.resolve`: the variant at its size, the recipe (the variant's, a named one or a
``Recipe``, with ``--set`` changes), the stages, the data's readability for ``--stream``, the output
folders and every number against ``fer_keras.constraints``. Nothing is checked again later, and
nothing is written or imported slowly before it passes.
"""

from dataclasses import dataclass, field
from pathlib import Path

from fer_keras.constraints import check
from fer_keras.data import SYNTHETIC
from fer_keras.data.extra import ExtraFaces, read_extra_faces
from fer_keras.data.io import folder_layout
from fer_keras.data.labelsets import get_label_set
from fer_keras.data.stream import STREAM_SAMPLINGS
from fer_keras.errors import FERError
from fer_keras.runs.folder import Run, check_output_dir
from fer_keras.training.distill import PACKAGED
from fer_keras.training.health import check_precise_bn
from fer_keras.training.recipes import Recipe, override, preset_recipe, resolve_recipe
from fer_keras.training.stages import Stage, check_stages, stages_from_records
from fer_keras.training.variants import DEFAULT_VARIANT, Variant, at_size, get_variant

STREAM_CACHE_BATCHES = 64
"""``--stream-cache``: validation batches kept decoded (float32), at most 64 × batch size × 9.2 kB."""

BUDGET_CLOCKS = ("wall", "cpu")
"""What ``--time-budget`` counts (``fer_keras.training.schedules.BUDGET_CLOCKS``)."""

NON_FOLDER_LABEL_SETS = ("ferplus", "rafdb")
"""Label sets whose data load from their own files (FER+'s fer2013new.csv, RAF-DB's partition file),
not from class folders ROOT/<split>/<class>/*."""


@dataclass(frozen=True)
class TrainOptions:
    """A training request, resolved: the sized variant, its recipe and stages, the data and how to read
    it, the run's numbers and where it writes. Build it with :meth:`resolve`."""

    variant: Variant
    recipe: Recipe
    stages: tuple
    data: str = SYNTHETIC
    labels: str | None = None
    ferplus_mode: str = "majority"
    epochs: int | None = None
    batch_size: int | None = None
    seed: int = 0
    per_class: int | None = None
    model_kwargs: dict | None = None
    mixed_precision: bool = False
    time_budget: float | None = None
    budget_clock: str = "wall"
    devices: object = None
    multi_worker: bool = False
    extra_train: ExtraFaces | None = None
    extra_per_class: int | None = None
    stream: bool = False
    stream_cache: int = STREAM_CACHE_BATCHES
    stream_labels: object = None
    """The label set a streamed folder's class folders name (:func:`check_streamable`)."""
    size: str = "paper"
    deviations: list = field(default_factory=list)
    precise_bn: str = "auto"
    teachers: tuple = ()
    init: str | None = None
    """``--init``: a run folder or "packaged" whose weights the model starts from (``training.warm_start``)."""
    hold_out_test: bool = False
    """``--hold-out-test``: train and check on the validation split only; the test split is left for one
    later ``python -m fer_keras.evaluate --run`` (candidates of a soup or ensemble are chosen before it is read)."""
    output_dir: str = "callbacks"
    results_dir: str = "results"
    fresh: bool = False
    verbose: int | None = None

    @property
    def synthetic(self):
        return str(self.data) == SYNTHETIC

    @property
    def staged(self):
        return len(self.stages) > 1

    @classmethod
    def resolve(cls, variant_name=DEFAULT_VARIANT, data=SYNTHETIC, *, recipe=None, overrides=(), model_kwargs=None,
                stages=None, size="paper", extra_train=None, extra_cropped=False, teachers=(), **options):
        """Resolve and check a training request (see the module docstring); one FERError line for the
        first problem. ``recipe``: a name in ``RECIPES`` or a ``Recipe`` (default: the variant's, or its
        CPU size's); ``overrides``: ``--set KEY=VALUE`` items (``model.KEY`` ones go to the builder);
        ``stages``: ``Stage`` objects or records (default: the variant's); ``extra_train``: a folder or
        ``ExtraFaces``; the other ``options`` are :class:`TrainOptions` fields."""
        variant, preset, deviations = at_size(get_variant(variant_name), size)
        recipe = recipe if recipe is not None or preset is None else preset_recipe(preset)
        model_sets = [item for item in overrides if str(item).startswith("model.")]
        recipe = override(resolve_recipe(recipe, variant), [item for item in overrides if item not in model_sets])
        options = cls(variant, recipe, (), data, size=size, deviations=deviations, teachers=tuple(teachers),
                      **_checked_numbers(options))
        for name in ("output_dir", "results_dir"):
            check_output_dir(getattr(options, name), "--" + name.replace("_", "-"))
        stages = stages_from_records(variant.stages if stages is None else stages) or (Stage(),)
        check_stages(stages, recipe, options.time_budget, variant.protocol)
        stream_labels = (check_streamable(variant, data, options.labels, stages, extra_train) if options.stream
                         else _check_folder(data, options.labels))
        extra_train = _extra_faces(options, extra_train, extra_cropped)
        _check_teachers(variant, options.teachers, recipe)
        if options.init not in (None, PACKAGED):
            Run(Path(options.init)).read_config()  # a missing start fails before the slow imports
        model_kwargs = _model_kwargs(variant, preset, model_kwargs, model_sets)
        return cls(**{**options.__dict__, "stages": stages, "extra_train": extra_train, "stream_labels": stream_labels,
                      "model_kwargs": model_kwargs})


def _checked_numbers(options):
    """``options`` with every number checked against ``fer_keras.constraints`` (declared once) and the
    named modes against their lists."""
    for name in ("epochs", "batch_size", "per_class", "extra_per_class", "stream_cache", "time_budget", "seed"):
        if name in options:
            options[name] = check(name, options[name], "--" + name.replace("_", "-"))
    check_precise_bn(options.get("precise_bn", "auto"))
    if options.get("budget_clock", "wall") not in BUDGET_CLOCKS:
        raise FERError(f"--budget-clock must be wall or cpu, got {options['budget_clock']!r}")
    return options


def _extra_faces(options, extra_train, extra_cropped):
    """``--extra-train``'s faces (read from a folder, cropped by face detection unless ``extra_cropped``)."""
    if extra_train is None:
        if options.extra_per_class is not None or extra_cropped:
            raise FERError("--extra-per-class and --extra-cropped go with --extra-train FOLDER")
        return None
    return extra_train if isinstance(extra_train, ExtraFaces) else read_extra_faces(extra_train,
                                                                                    detect=not extra_cropped)


def _check_folder(data, labels=None):
    """An image folder's layout, checked before any work (RAF-DB's and FER+'s load from their files)."""
    path = Path(str(data)).expanduser()
    if path.is_dir():
        label_set = folder_label_set(path, labels)
        if label_set.name not in NON_FOLDER_LABEL_SETS:
            folder_layout(path, label_set)
    return None


def _check_teachers(variant, teachers, recipe):
    if recipe.distill_consistent and not teachers:
        raise FERError("--set distill_consistent=true makes the teachers look at every training batch: give them "
                       "with --teacher RUN [RUN ...] (or packaged)")
    if variant.binary and teachers:
        raise FERError("--teacher distils multi-class probabilities: use it with a multi-class variant")
    for teacher in teachers:
        if teacher != PACKAGED:
            Run(Path(teacher)).read_config()  # a missing teacher fails before the slow imports


def _model_kwargs(variant, preset, model_kwargs, model_sets):
    """The builder's arguments: the CPU size's, then ``model_kwargs``, then ``--set model.KEY=VALUE``."""
    if model_sets:
        from fer_keras.cli import import_keras_quietly

        import_keras_quietly()  # the builders' signatures need their modules, which import Keras
        from fer_keras.models.registry import model_overrides

        model_kwargs = {**(model_kwargs or {}), **model_overrides(variant.model, model_sets)}
    if preset is not None:
        model_kwargs = {**preset.model, **(model_kwargs or {})}
    return model_kwargs or None


def folder_label_set(path, labels=None):
    """The label set of the folder ``path``: ``labels`` if given, else detected as ``fer_keras.data.load``
    does (a folder holding RAF-DB's partition file is RAF-DB, any other FER2013)."""
    from fer_keras.data.datasets import rafdb_partition

    return get_label_set(labels if labels is not None else "rafdb" if rafdb_partition(path) else "fer2013")


def check_streamable(variant, data, labels=None, stages=None, extra_train=None):
    """``--stream`` reads an image folder batch by batch: a one-line error for what it cannot do.
    Returns the label set its class folders name. ``stages``: the run's (default: the variant's)."""
    path = Path(str(data)).expanduser()
    if str(data) == SYNTHETIC or path.is_file():
        raise FERError(f"--stream reads an image folder ROOT/<split>/<class>/*.png, not {data}; "
                       "drop --stream to load it into memory")
    label_set = folder_label_set(path, labels)
    if label_set.name in NON_FOLDER_LABEL_SETS:
        raise FERError(f"--stream reads class folders ROOT/<split>/<class>/*.png; {label_set.name} data load from "
                       "their own label file (and FER+'s vote distributions are not streamed): drop --stream")
    if extra_train is not None:
        raise FERError("--stream does not combine with --extra-train (its faces are held in memory and added before "
                       "balancing): drop one of them")
    stages = stages_from_records(variant.stages if stages is None else stages)
    if any(stage.data != "train" for stage in stages):
        raise FERError(f"--stream: stages {','.join(s.data for s in stages)} fit the validation split, which a "
                       "streamed run reads only to validate; use stages on train only, or drop --stream")
    reason = ("is one-vs-rest" if variant.binary else f"uses the {variant.protocol} protocol"
              if variant.protocol != "honest" else None if variant.sampling in STREAM_SAMPLINGS
              else f"balances with {variant.sampling}")
    if reason:
        raise FERError(f"--stream: variant {variant.name!r} {reason}, which needs every image in memory; use a "
                       f"multi-class honest variant with sampling {', '.join(STREAM_SAMPLINGS)}, or drop --stream")
    return label_set
