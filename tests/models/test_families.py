"""A model family is one file (issue 23, item 5): each module of ``fer_keras.models`` declares its own
families, the registry discovers them (and plug-in folders), and every table that used to list the
families — ``MODEL_FAMILIES``, ``CPU_PRESETS``, ``PAPER_RESULTS``, the lazy names of ``fer_keras.models``,
the variants — is derived from what they declare."""

import json
import os
import subprocess
import sys

import pytest

from conftest import REPO
from fer_keras.errors import FERError
from fer_keras.models import registry
from fer_keras.models.family import ModelFamily
from fer_keras.models.paper_results import PAPER_RESULTS
from fer_keras.models.presets import CPU_PRESETS
from fer_keras.models.registry import MODEL_FAMILIES, PLUGIN_PATH, declares_families, discover

MODELS = REPO / "fer_keras" / "models"

PLUGIN = '''\
"""A throw-away model family: this one file, on the plug-in path, is all it takes."""

from fer_keras.models.family import CpuPreset, ModelFamily, figure


def build_tiny_plugin(input_shape=(48, 48, 1), num_classes=7, binary=False, filters=8, name="tiny_plugin"):
    """Conv 3×3 → global average pooling → the shared softmax head."""
    import keras

    from fer_keras.models.blocks import classifier_head, conv_bn_relu, image_input

    inputs = image_input(input_shape)
    x = conv_bn_relu(inputs, filters, "conv1")
    x = keras.layers.GlobalAveragePooling2D(name="gap")(x)
    return keras.Model(inputs, classifier_head(x, num_classes, binary), name=name)


FAMILY = ModelFamily(
    "tiny_plugin", build_tiny_plugin, "a test fixture", (167, 151, 16),
    cpu=CpuPreset(model={"filters": 4}, parameters=87, why="a smaller fixture"),
    figures={"tiny_plugin": figure(50.0, "the fixture's imaginary paper")},
    variant={"batch_size": 64, "demo_epochs": 1})
'''
"""8 filters: 72 convolution weights (no bias), 4 × 8 BatchNorm (16 trainable, 16 moving statistics) and a
head of 8 × 7 + 7: 167 parameters; 4 filters: 87."""


def plugin_folder(tmp_path, source=PLUGIN, name="tiny_plugin.py"):
    folder = tmp_path / "families"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(source)
    return folder


def run(args, folder, **kwargs):
    env = {**os.environ, PLUGIN_PATH: str(folder)}
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO, env=env, **kwargs)


def test_every_family_module_declares_its_families_and_the_registry_finds_exactly_those():
    declared = {}
    for path in sorted(MODELS.glob("*.py")):
        if declares_families(path):
            module = __import__(f"fer_keras.models.{path.stem}", fromlist=["_"])
            declared.update({family.name: family for family in registry.families_of(module)})
    assert declared == MODEL_FAMILIES and len(MODEL_FAMILIES) == 21
    assert all(isinstance(family, ModelFamily) and family.name == name for name, family in MODEL_FAMILIES.items())


def test_cpu_presets_and_paper_results_are_derived_from_the_families():
    assert CPU_PRESETS == {name: family.cpu for name, family in MODEL_FAMILIES.items()}
    union = {variant: figure for family in MODEL_FAMILIES.values() for variant, figure in family.figures.items()}
    assert PAPER_RESULTS == union and len(PAPER_RESULTS) == 29
    assert PAPER_RESULTS["five_layer_balanced_filtered"] == {
        "accuracy": 71.43, "s_per_1000": 0.63, "source": "Białek et al. 2023"}
    assert MODEL_FAMILIES["pattlite"].backbone == "mobilenet_base"
    assert [name for name, family in MODEL_FAMILIES.items() if family.backbone] == ["pattlite"]


def test_the_lazy_names_of_the_package_are_every_family_builder():
    import fer_keras.models as models

    for family in MODEL_FAMILIES.values():
        assert getattr(models, family.builder.__name__) is family.builder
    assert {"build_rmn", "build_fernet_s", "build_model", "conv_bn_relu"} <= set(dir(models))
    with pytest.raises(AttributeError):
        models.build_nothing


def test_discovery_and_the_derived_tables_import_no_keras():
    code = ("import sys\n"
            "from fer_keras.models import MODEL_FAMILIES, build_rmn\n"
            "from fer_keras.models.presets import CPU_PRESETS\n"
            "from fer_keras.models.paper_results import PAPER_RESULTS\n"
            "from fer_keras.training.variants import VARIANTS\n"
            "assert len(MODEL_FAMILIES) == len(CPU_PRESETS) == 21, len(MODEL_FAMILIES)\n"
            "heavy = {'keras', 'tensorflow', 'jax'} & set(sys.modules)\n"
            "assert not heavy, heavy\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120,
                          env={k: v for k, v in os.environ.items() if k != PLUGIN_PATH})
    assert done.returncode == 0, done.stderr[-1500:]


def test_each_shared_block_is_defined_once():
    definitions = {}
    for path in sorted((REPO / "fer_keras").rglob("*.py")):
        for line in path.read_text().splitlines():
            if line.startswith("def ") and ("conv_bn" in line or "unfreeze_last_layers(model, n, base)" in line):
                definitions.setdefault(line.split("(")[0].removeprefix("def "), []).append(path.name)
    assert definitions == {"conv_bn_relu": ["blocks.py"], "unfreeze_last_layers": ["blocks.py"]}


def test_a_family_declared_twice_is_refused(tmp_path):
    twin = PLUGIN.replace('"tiny_plugin", build_tiny_plugin', '"baseline_cnn", build_tiny_plugin')
    with pytest.raises(FERError, match="'baseline_cnn' is declared twice"):
        discover([plugin_folder(tmp_path, twin, "twin.py")])
    with pytest.raises(FERError, match="not a folder"):
        discover([tmp_path / "missing"])


def test_a_stage_unfreezes_only_a_family_that_names_a_backbone():
    from fer_keras.models import build_model

    with pytest.raises(FERError, match="no backbone layer 'mobilenet_base' to unfreeze"):
        registry.unfreeze_backbone(build_model("baseline_cnn"), 3)


@pytest.mark.slow
def test_a_new_family_is_one_file_listed_built_and_trained_one_step(tmp_path):
    folder = plugin_folder(tmp_path)
    plugins = discover([folder])
    assert list(plugins)[-1] == "tiny_plugin" and len(plugins) == len(MODEL_FAMILIES) + 1

    listed = run(["-m", "fer_keras.train", "--list"], folder, timeout=120)
    assert listed.returncode == 0, listed.stderr[-1500:]
    variants, _, presets = listed.stdout.partition("\nCPU sizes")
    assert any(line.startswith("tiny_plugin ") and "[a test fixture]" in line for line in variants.splitlines())
    assert any(line.startswith("tiny_plugin ") and "filters=4" in line for line in presets.splitlines())

    code = ("from fer_keras.cli import import_keras_quietly; import_keras_quietly()\n"
            "from fer_keras.models import MODEL_FAMILIES, build_model, build_tiny_plugin\n"
            "from fer_keras.models.paper_results import paper_figure\n"
            "family = MODEL_FAMILIES['tiny_plugin']\n"
            "model, cpu = build_model('tiny_plugin'), build_model('tiny_plugin', **family.cpu.model)\n"
            "print(model.count_params(), cpu.count_params(), model.output.shape[-1], paper_figure('tiny_plugin'))\n")
    built = run(["-c", code], folder, timeout=300)
    assert built.returncode == 0, built.stderr[-1500:]
    assert built.stdout.split()[:3] == ["167", "87", "7"] and "the fixture's imaginary paper" in built.stdout

    trained = run(["-m", "fer_keras.train", "--variant", "tiny_plugin", "--epochs", "1", "--batch-size", "64",
                   "--output-dir", str(tmp_path / "callbacks"), "--results-dir", str(tmp_path / "results")],
                  folder, timeout=600)
    assert trained.returncode == 0, trained.stderr[-3000:]
    [run_dir] = (tmp_path / "callbacks").iterdir()
    config = json.loads((run_dir / "config.json").read_text())
    assert config["variant"]["model"] == "tiny_plugin" and (run_dir / "best.keras").is_file()
    [metrics] = (tmp_path / "results").rglob("metrics.json")
    assert 0 <= json.loads(metrics.read_text())["test_accuracy"] <= 1
    history = (run_dir / "history.csv").read_text().splitlines()
    assert len(history) == 2  # the header and the one epoch
