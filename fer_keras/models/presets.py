"""Each model family's **CPU size** (``--size cpu``): a thinner, smaller-input, sometimes shallower
copy of the paper's model and the recipe it trains with, so that one epoch of FER2013's Training split
costs at most about 3 CPU-minutes on a 2-core CPU and the family leaves the class prior within a budget
of minutes (issue 21). ``--variant NAME`` alone keeps the paper's size and recipe; the CPU size is a
deviation from the paper, and runs say so (``config.json``'s ``size`` and ``deviations``, the reports
and the zoo table).

Pure data, no Keras import: ``python -m fer_keras.train --list`` prints it before any slow import.
"""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class CpuPreset:
    """A family's CPU size and recipe.

    model:        builder arguments (``width`` scales every convolution and hidden Dense layer — through
                  the builder's own ``width`` where it has one, else ``blocks.scale_width``; ``base_size``
                  is a transfer model's input side).
    recipe:       fields of ``fer_keras.training.recipes.Recipe`` set on top of ``base_recipe``.
    parameters:   the CPU-size model's parameter total at 48×48×1, 7 classes (tested against the builder).
    epoch_cpu_min: one epoch of FER2013 Training (28.6k faces, batch 64) in CPU-minutes on one core of
                  this project's machine, with bfloat16 (measured, ``results/zoo_cpu/cost.md``).
    why:          how the size and recipe were chosen.
    """

    model: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    base_recipe: str = "modern"
    parameters: int | None = None
    epoch_cpu_min: float | None = None
    why: str = ""

    def describe(self):
        """One line: the builder arguments and the recipe."""
        model = ", ".join(f"{k}={v}" for k, v in self.model.items()) or "paper size"
        recipe = ", ".join(f"{k}={v}" for k, v in self.recipe.items())
        return f"{model}; recipe {self.base_recipe}" + (f" ({recipe})" if recipe else "")


QUARTER = {"width": 0.25}
SHORT_WARMUP = {"warmup_epochs": 1.0}
VIT_RECIPE = {"learning_rate": 1e-3, "warmup_epochs": 2.0, "weight_decay": 0.05, "label_smoothing": 0.1}
FROM_SCRATCH = "from scratch (no pretrained weights ship here)"


def _preset(parameters, model=None, recipe=None, base_recipe="modern", why="", epoch=None):
    return CpuPreset(model=model or {}, recipe=SHORT_WARMUP if recipe is None else recipe, base_recipe=base_recipe,
                     parameters=parameters, why=why, epoch_cpu_min=epoch)


CPU_PRESETS = {
    "baseline_cnn": _preset(684_935, recipe={}, why="already CPU-sized"),
    "fernet_t": _preset(295_575, recipe={}, base_recipe="modern_sgd", why="this project's CPU family"),
    "fernet_s": _preset(1_176_359, recipe={}, base_recipe="modern_sgd", why="this project's CPU family"),
    "fernet_m": _preset(2_642_359, recipe={}, base_recipe="modern_sgd", why="this project's CPU family"),
    "five_layer_cnn": _preset(1_023_239, QUARTER, why="16.3 M → 1.0 M parameters", epoch=1.22),
    "six_layer_cnn": _preset(2_166_663, QUARTER, why="34.5 M → 2.2 M parameters", epoch=1.43),
    "vgg16_transfer": _preset(1_053_751, {**QUARTER, "base_size": 48, "freeze_base": False},
                              why=f"{FROM_SCRATCH}: the whole model trains", epoch=0.5),
    "resnet50_transfer": _preset(1_767_143, {**QUARTER, "base_size": 64}, why=FROM_SCRATCH, epoch=1.8),
    "resnet50v2_trinh": _preset(1_530_167, {**QUARTER, "base_size": 64}, why=FROM_SCRATCH, epoch=1.46),
    "inceptionv3_transfer": _preset(1_379_879, {**QUARTER, "base_size": 75},
                                    why=f"{FROM_SCRATCH}; 75 px is InceptionV3's smallest input"),
    "googlenet": _preset(390_871, QUARTER, why="6.0 M → 0.39 M parameters", epoch=1.36),
    "spp_net": _preset(3_147_431, why="already CPU-sized", epoch=1.51),
    "cnn_lstm": _preset(474_247, why="already CPU-sized", epoch=3.17),
    "cnn_lstm_first": _preset(143_431, why="already CPU-sized", epoch=1.17),
    "attention_vit": _preset(92_823, {"width": 0.5}, VIT_RECIPE,
                             why="0.32 M → 0.09 M parameters (4 CPU-min per epoch at full width)", epoch=2.93),
    "patch_vit": _preset(309_703, {"patch_size": 6}, VIT_RECIPE, why="64 tokens of 6×6 instead of 144 of 4×4",
                         epoch=1.61),
    "resemotenet": _preset(6_038_119, {**QUARTER, "base_size": 48}, why="80 M → 6.0 M parameters", epoch=1.51),
    "pattlite": _preset(288_680, {"width": 0.5, "base_size": 96, "freeze_base": False},
                        why=f"{FROM_SCRATCH}: the backbone trains; 96 px keeps its 2×2 patch tokens "
                        "(3.6 CPU-min per epoch at 112 px)", epoch=3.99),
    "resnet34": _preset(1_338_199, QUARTER, why="21.3 M → 1.3 M parameters", epoch=1.42),
    "cbam_resnet34": _preset(1_350_658, QUARTER, why="21.5 M → 1.4 M parameters", epoch=2.24),
    "rmn": _preset(2_171_871, {"width": 0.125}, why="138 M → 2.2 M parameters", epoch=3.63),
}
"""Family name → its CPU size. Every registered family has one (tested)."""

SIZES = ("paper", "cpu")
"""``--size``: the paper's model and recipe, or the family's CPU preset."""
