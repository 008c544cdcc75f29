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
    recipe:       fields of ``fer_keras.recipes.Recipe`` set on top of ``base_recipe``.
    epoch_cpu_min: one epoch of FER2013 Training (28.6k faces, batch 64) in CPU-minutes on one core of
                  this project's machine, with bfloat16 (measured, ``results/zoo_cpu/cost.md``).
    why:          how the size and recipe were chosen.
    """

    model: dict = field(default_factory=dict)
    recipe: dict = field(default_factory=dict)
    base_recipe: str = "modern"
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

CPU_PRESETS = {
    "baseline_cnn": CpuPreset(why="already CPU-sized"),
    "fernet_t": CpuPreset(base_recipe="modern_sgd", why="this project's CPU family"),
    "fernet_s": CpuPreset(base_recipe="modern_sgd", why="this project's CPU family"),
    "fernet_m": CpuPreset(base_recipe="modern_sgd", why="this project's CPU family"),
    "five_layer_cnn": CpuPreset(QUARTER, SHORT_WARMUP, why="16.3 M → 1.0 M parameters"),
    "six_layer_cnn": CpuPreset(QUARTER, SHORT_WARMUP, why="34.5 M → 2.2 M parameters"),
    "vgg16_transfer": CpuPreset({**QUARTER, "base_size": 48, "freeze_base": False}, SHORT_WARMUP,
                                why="from scratch (no VGGFace weights here): the whole model trains"),
    "resnet50_transfer": CpuPreset({**QUARTER, "base_size": 64}, SHORT_WARMUP,
                                   why="from scratch (no VGGFace2 weights here)"),
    "resnet50v2_trinh": CpuPreset({**QUARTER, "base_size": 64}, SHORT_WARMUP,
                                  why="from scratch (no ImageNet weights here)"),
    "inceptionv3_transfer": CpuPreset({**QUARTER, "base_size": 75}, SHORT_WARMUP,
                                      why="from scratch; 75 px is InceptionV3's smallest input"),
    "googlenet": CpuPreset(QUARTER, SHORT_WARMUP),
    "spp_net": CpuPreset(recipe=SHORT_WARMUP, why="already CPU-sized"),
    "cnn_lstm": CpuPreset(recipe=SHORT_WARMUP, why="already CPU-sized (0.47 M parameters)"),
    "cnn_lstm_first": CpuPreset(recipe=SHORT_WARMUP, why="already CPU-sized (0.14 M parameters)"),
    "attention_vit": CpuPreset(recipe=VIT_RECIPE, why="already small (0.32 M parameters)"),
    "patch_vit": CpuPreset({"patch_size": 6}, VIT_RECIPE, why="64 tokens of 6×6 instead of 144 of 4×4"),
    "resemotenet": CpuPreset({**QUARTER, "base_size": 48}, SHORT_WARMUP, why="80 M → 5 M parameters"),
    "pattlite": CpuPreset({"width": 0.5, "base_size": 112, "freeze_base": False}, SHORT_WARMUP,
                          why="from scratch (no ImageNet MobileNet here): the backbone trains; 112 px keeps its "
                          "2×2 patch tokens"),
    "resnet34": CpuPreset(QUARTER, SHORT_WARMUP, why="21.3 M → 1.3 M parameters"),
    "cbam_resnet34": CpuPreset(QUARTER, SHORT_WARMUP, why="21.5 M → 1.4 M parameters"),
    "rmn": CpuPreset({"width": 0.125}, SHORT_WARMUP, why="138 M → 2.2 M parameters"),
}
"""Family name → its CPU size. Every registered family has one (tested)."""

SIZES = ("paper", "cpu")
"""``--size``: the paper's model and recipe, or the family's CPU preset."""
