"""Every model family's CPU size (issue 21): it exists, it is the size it says, it learns a batch and its
head stays alive; ``--size cpu`` records the deviation; bfloat16 is picked on CPUs that have it."""

import numpy as np
import pytest

from fer_keras.data.container import to_model_input
from fer_keras.data.synthetic import generate
from fer_keras.models.presets import CPU_PRESETS
from fer_keras.models.registry import MODEL_FAMILIES
from fer_keras.training.variants import VARIANTS, at_size, get_variant

pytestmark = pytest.mark.slow  # trains: the slow tier (python -m pytest -m slow)


def test_every_family_has_a_cpu_size_and_the_presets_name_only_families():
    assert set(CPU_PRESETS) == set(MODEL_FAMILIES)
    assert all(p.parameters for p in CPU_PRESETS.values())


@pytest.mark.parametrize("family", sorted(MODEL_FAMILIES))
def test_a_cpu_size_has_its_parameters_learns_a_batch_and_keeps_its_head_alive(family):
    import keras

    from fer_keras.training.health import live_units
    from fer_keras.models import build_model, compile_model

    preset = CPU_PRESETS[family]
    keras.utils.set_random_seed(0)
    model = build_model(family, **preset.model)
    assert model.count_params() == preset.parameters
    faces = generate(n_samples=64, seed=0).data  # the synthetic set's learnable faces
    x, y = to_model_input(faces.images), keras.utils.to_categorical(faces.labels, 7)
    compile_model(model, optimizer=keras.optimizers.Adam(1e-3))
    # training-mode losses (BatchNorm on batch statistics: its moving averages lag after 20 steps)
    losses = model.fit(x, y, batch_size=32, epochs=10, verbose=0).history["loss"]
    assert np.mean(losses[-2:]) < np.mean(losses[:2]), f"{family}: training loss {losses[0]:.3f} → {losses[-1]:.3f}"
    # the classifier head (fc…): attention MLPs inside blocks (CBAM's 4-unit ones at width 0.25) are not heads
    dead = {name: units for name, units in live_units(model, x).items() if units[0] == 0 and name.startswith("fc")}
    assert not dead, f"{family}: dead ReLU units in its head {dead}"


def test_scale_width_thins_every_convolution_and_keeps_the_output():
    from fer_keras.models import build_model

    paper, thin = build_model("five_layer_cnn"), build_model("five_layer_cnn", width=0.25)
    assert paper.count_params() == 16_307_207 and thin.count_params() == 1_023_239
    assert thin.get_layer("block5_conv").filters == 256 and thin.get_layer("predictions").units == 7
    assert thin.get_layer("fc1").units == 128  # hidden Dense layers are thinned too


def test_width_with_pretrained_weights_and_bad_widths_are_one_line_errors():
    from fer_keras.errors import FERError
    from fer_keras.models import build_model

    with pytest.raises(FERError, match="does not combine with weights="):
        build_model("vgg16_transfer", width=0.5, weights="imagenet")
    for width in (0, -1, float("nan"), "wide", True):
        with pytest.raises(FERError, match="width must be a number"):
            build_model("googlenet", width=width)


def test_cpu_size_validates_on_publictest_without_oversampling_and_says_so():
    googlenet, preset, deviations = at_size(get_variant("googlenet_trinh"), "cpu")
    assert googlenet.split == "usage" and not googlenet.augment_in_training and preset.model == {"width": 0.25}
    assert any("PublicTest" in d for d in deviations) and deviations[0].startswith("CPU size: width=0.25")
    cnn_lstm, _, deviations = at_size(get_variant("cnn_lstm_v5_final"), "cpu")
    assert cnn_lstm.sampling == "none" and "no ros over-sampling" in deviations
    assert at_size(VARIANTS["resnet34"], "paper") == (VARIANTS["resnet34"], None, [])


def test_the_preset_recipe_is_its_base_recipe_with_its_fields():
    from fer_keras.training.recipes import MODERN, preset_recipe

    recipe = preset_recipe(CPU_PRESETS["patch_vit"])
    assert recipe.name == "modern+cpu" and recipe.learning_rate == 1e-3 and recipe.label_smoothing == 0.1
    assert recipe.optimizer == MODERN.optimizer and recipe.augmentation == MODERN.augmentation


def test_mixed_precision_is_bfloat16_on_a_cpu_that_has_it(tmp_path, monkeypatch):
    from fer_keras import runtime

    with_bf16, without = tmp_path / "with", tmp_path / "without"
    with_bf16.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx512f avx512_bf16 amx_bf16\n")
    without.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2\n")
    assert runtime.cpu_has_bfloat16(with_bf16) and not runtime.cpu_has_bfloat16(without)
    assert not runtime.cpu_has_bfloat16(tmp_path / "missing")
    monkeypatch.setattr(runtime, "gpu_available", lambda: False)
    monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: True)
    assert runtime.mixed_precision_policy(True)[0] == "mixed_bfloat16"
    assert runtime.mixed_precision_policy(False) == ("float32", None)
    monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: False)
    policy, note = runtime.mixed_precision_policy(True)
    assert policy == "float32" and "float32" in note


def test_a_preset_that_trains_faster_in_float32_says_so_and_keeps_it(monkeypatch):
    """PAtt-Lite's depthwise convolutions cost 1.5× more CPU with bfloat16 (3.92 against 2.66 CPU-min per
    epoch, measured): its CPU size keeps float32 under --mixed-precision, and --list says so."""
    from fer_keras import runtime

    assert not CPU_PRESETS["pattlite"].bfloat16 and CPU_PRESETS["pattlite"].describe().endswith("; float32 on a CPU")
    assert [name for name, preset in CPU_PRESETS.items() if not preset.bfloat16] == ["pattlite"]
    monkeypatch.setattr(runtime, "gpu_available", lambda: False)
    monkeypatch.setattr(runtime, "cpu_has_bfloat16", lambda: True)
    assert runtime.mixed_precision_policy(True, bfloat16_pays=False)[0] == "float32"
    monkeypatch.setattr(runtime, "gpu_available", lambda: True)
    assert runtime.mixed_precision_policy(True, bfloat16_pays=False)[0] == "mixed_float16"
