"""What a model family declares about itself: :class:`ModelFamily` and the pieces it carries (its CPU
size, :class:`CpuPreset`, and its papers' figures).

A family is one module: its builder, then ``FAMILY = ModelFamily(...)`` (or ``FAMILIES = (...)`` for a
module that holds a few sizes) at the bottom. ``fer_keras.models.registry`` discovers the modules of
this package and of the plug-in folders (``FER_KERAS_FAMILIES``); ``MODEL_FAMILIES``, ``CPU_PRESETS``,
``PAPER_RESULTS``, the lazy names of ``fer_keras.models`` and a default variant for a family that no
variant trains are all derived from what the families declare.

Pure data, no Keras import: the registry imports every family module to answer ``--list``.
"""

from dataclasses import dataclass, field
from typing import Callable

PREPROCESSINGS = ("none", "caffe", "tf", "torch")


@dataclass(frozen=True)
class CpuPreset:
    """A family's CPU size and recipe (``--size cpu``; see ``fer_keras.models.presets``).

    model:        builder arguments (``width`` scales every convolution and hidden Dense layer — through
                  the builder's own ``width`` where it has one, else ``blocks.scale_width``; ``base_size``
                  is a transfer model's input side).
    recipe:       fields of ``fer_keras.training.recipes.Recipe`` set on top of ``base_recipe``.
    parameters:   the CPU-size model's parameter total at 48×48×1, 7 classes (tested against the builder).
    epoch_cpu_min: one epoch of FER2013 Training (28.6k faces, batch 64) in CPU-minutes on one core of
                  this project's machine, in the precision the preset trains in (bfloat16 unless ``bfloat16``
                  is False; measured, ``results/COMMANDS.md``).
    why:          how the size and recipe were chosen.
    bfloat16:     whether ``--mixed-precision`` pays on a CPU: False for a family that trains faster in
                  float32 (measured; its CPU-size runs then keep float32 on a CPU, and say so).
    """

    model: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    base_recipe: str = "modern"
    parameters: int | None = None
    epoch_cpu_min: float | None = None
    why: str = ""
    bfloat16: bool = True

    def describe(self):
        """One line: the builder arguments, the recipe and (when bfloat16 does not pay) float32."""
        model = ", ".join(f"{k}={v}" for k, v in self.model.items()) or "paper size"
        recipe = ", ".join(f"{k}={v}" for k, v in self.recipe.items())
        return (f"{model}; recipe {self.base_recipe}" + (f" ({recipe})" if recipe else "")
                + ("" if self.bfloat16 else "; float32 on a CPU"))


QUARTER = {"width": 0.25}
SHORT_WARMUP = {"warmup_epochs": 1.0}
VIT_RECIPE = {"learning_rate": 1e-3, "warmup_epochs": 2.0, "weight_decay": 0.05, "label_smoothing": 0.1}
FROM_SCRATCH = "from scratch (no pretrained weights ship here)"


def cpu_preset(parameters, model=None, recipe=None, base_recipe="modern", why="", epoch=None, bfloat16=True):
    """A :class:`CpuPreset` whose recipe defaults to one warm-up epoch (``SHORT_WARMUP``)."""
    return CpuPreset(model=model or {}, recipe=SHORT_WARMUP if recipe is None else recipe, base_recipe=base_recipe,
                     parameters=parameters, why=why, epoch_cpu_min=epoch, bfloat16=bfloat16)


# the seed papers, as the figures' sources cite them (several families share one)
BIALEK = "Białek et al. 2023"
THESIS_LEAKY = "Ismail 2022 thesis, leaky protocol"
TRINH = "Trinh et al. 2023"
BAKIASI_AFFECTNET = "Bakiasi & Muça 2024, on AffectNet, not FER2013"
PHAM = "Pham et al. 2020, at 224×224 RGB"
ROY_UNREPRODUCED = "Roy et al. 2024; not reproduced on the standard splits (public reports 58–66 %)"


def bialek_figures(model, accuracies, s_per_1000):
    """Białek et al.'s figures of one model on their four datasets (original, balanced, filtered,
    balanced + filtered), by the variants that reproduce them (``{model}_{dataset}``)."""
    datasets = ("original", "balanced", "filtered", "balanced_filtered")
    return {f"{model}_{dataset}": figure(accuracy, BIALEK, s_per_1000)
            for dataset, accuracy in zip(datasets, accuracies)}


def figure(accuracy, source, s_per_1000=None):
    """A paper's figure for one variant: its test accuracy (%), its inference time (s per 1000 images)
    and where it comes from."""
    return {"accuracy": accuracy, "s_per_1000": s_per_1000, "source": source}


@dataclass(frozen=True)
class ModelFamily:
    """A registered model: its builder and the facts about it that tests and tools rely on.

    name:          the family's name (``build_model(name)``, a variant's ``model``).
    builder:       takes ``input_shape``, ``num_classes``, ``binary``, ``name`` (and the family's own
                   arguments) and returns an uncompiled Keras model.
    paper:         where the architecture comes from, in words.
    parameters:    (total, trainable, non-trainable) at 48×48×1, 7 classes, ``weights=None``.
    cpu:           its CPU size (``--size cpu``); the default keeps the paper's size.
    min_input:     the smallest image side the builder accepts (``build_model`` checks it).
    preprocessing: what the model does to its [0, 1] grey input before its base: "none", or (resize,
                   grey → RGB, then, in the graph) "caffe" (×255, BGR mean subtracted), "tf" ([-1, 1])
                   or "torch" (ImageNet mean/std); see ``transfer.grey_to_base_input``.
    aux_outputs:   whether training adds auxiliary outputs that the saved inference model drops: the
                   builder then takes ``auxiliary=True`` and returns [predictions, *AUX_OUTPUTS]
                   (``parameters`` are the inference model's).
    figures:       variant name → the paper's figure for it (:func:`figure`): ``PAPER_RESULTS`` is
                   their union.
    backbone:      the unfreeze policy: the name of the nested backbone model whose last layers a
                   stage with ``unfreeze=N`` makes trainable, BatchNorm kept frozen
                   (``blocks.unfreeze_last_layers``); None: the family has nothing to unfreeze.
    variant:       fields of ``fer_keras.training.variants.Variant`` for the default variant a family
                   gets when no variant trains it (a plug-in's), named after the family.
    """

    name: str
    builder: Callable
    paper: str
    parameters: tuple
    cpu: CpuPreset = field(default_factory=CpuPreset)
    min_input: int = 8
    preprocessing: str = "none"
    aux_outputs: bool = False
    figures: dict = field(default_factory=dict)
    backbone: str | None = None
    variant: dict = field(default_factory=dict)

    def __post_init__(self):
        if not callable(self.builder):
            raise TypeError(f"family {self.name!r}: builder must be callable, got {self.builder!r}")
        if self.preprocessing not in PREPROCESSINGS:
            raise ValueError(f"family {self.name!r}: preprocessing must be one of {', '.join(PREPROCESSINGS)}, "
                             f"got {self.preprocessing!r}")
        if len(self.parameters) != 3 or self.parameters[0] != self.parameters[1] + self.parameters[2]:
            raise ValueError(f"family {self.name!r}: parameters must be (total, trainable, non-trainable), "
                             f"got {self.parameters!r}")

    def facts(self):
        """The facts a reader compares families by (the notebooks' table): paper, parameter totals,
        smallest input, preprocessing, auxiliary outputs and the CPU size's parameters."""
        return {"paper": self.paper, "parameters": self.parameters, "min_input": self.min_input,
                "preprocessing": self.preprocessing, "aux_outputs": self.aux_outputs,
                "cpu_parameters": self.cpu.parameters}
