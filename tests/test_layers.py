"""Data flows one way: no module imports a module that runs later in the flow (read from the source,
function-local imports included), and importing the package changes nothing outside it."""

import ast
import subprocess
import sys

from conftest import REPO

PACKAGE = REPO / "fer_keras"

STAGES = [
    # load, clean, split; shared plumbing every stage may use
    {"fer_keras", "fer_keras.errors", "fer_keras.cli", "fer_keras.runtime", "fer_keras.augment",
     "fer_keras.constraints",
     "fer_keras.paper_results", "fer_keras.labelsets", "fer_keras.data",
     "fer_keras.faces",  # face detection: predict's, and extra training faces (fer_keras.data.extra)
     "fer_keras.pretrained"},  # the shipped model's files and card (a teacher for distillation, predict's default)
    {"fer_keras.pre_proc_data"},  # balance the training split
    {"fer_keras.models"},  # build
    {"fer_keras.recipes", "fer_keras.schedules", "fer_keras.callbacks", "fer_keras.batches", "fer_keras.variants",
     "fer_keras.runs", "fer_keras.saved_models", "fer_keras.tflite", "fer_keras.distribute",
     "fer_keras.snapshots", "fer_keras.stages", "fer_keras.health", "fer_keras.distill"},  # how to fit; run folder
    {"fer_keras.train"},  # fit
    {"fer_keras.evaluate", "fer_keras.tta", "fer_keras.ensemble", "fer_keras.regions", "fer_keras.region_ensemble",
     "fer_keras.saliency", "fer_keras.results", "fer_keras.diagnose", "fer_keras.plots", "fer_keras.plots_eda",
     "fer_keras.eda"},  # read runs
    {"fer_keras.predict", "fer_keras.bench", "fer_keras.video",
     "fer_keras.photos", "fer_keras.detector_compare", "fer_keras.serve", "fer_keras.serve_load",
     "fer_keras.commands"},  # use
]
ALLOWED_FORWARD = {("fer_keras.train", "fer_keras.evaluate"), ("fer_keras.evaluate", "fer_keras.photos")}
"""Training ends by evaluating its run through the one evaluator (one writer of metrics); the evaluator's
``--photos`` hands over to the photo evaluation, which runs the recognizer end to end."""


def stage_of(module):
    parts = module.split(".")
    for depth in range(len(parts), 0, -1):
        prefix = ".".join(parts[:depth])
        for index, members in enumerate(STAGES):
            if prefix in members and (depth > 1 or module == "fer_keras"):
                return index
    raise AssertionError(f"{module} has no stage in tests/test_layers.py: place it in STAGES")


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(REPO).with_suffix("")
        name = ".".join(relative.parts)
        yield name.removesuffix(".__init__"), path


def imported(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fer_keras"):
            yield node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("fer_keras"))


def test_no_module_imports_a_later_stage():
    backwards = []
    for name, path in modules():
        for target in imported(path):
            if stage_of(target) > stage_of(name) and (name, target) not in ALLOWED_FORWARD:
                backwards.append(f"{name} imports {target}")
    assert not backwards, "\n".join(backwards)


def test_after_training_nothing_imports_training_or_balancing():
    after = {"fer_keras.evaluate", "fer_keras.ensemble", "fer_keras.region_ensemble", "fer_keras.saliency",
             "fer_keras.predict", "fer_keras.tta", "fer_keras.results"}
    for name, path in modules():
        if name in after:
            found = set(imported(path)) & {"fer_keras.train", "fer_keras.pre_proc_data"}
            assert not found, f"{name} imports {found}"


def test_importing_the_package_sets_no_environment_variable_and_no_plot_backend():
    code = ("import os, matplotlib; os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None); "
            "backend = matplotlib.rcParams._get_backend_or_none(); "
            "import fer_keras, fer_keras.plots, fer_keras.plots_eda, fer_keras.evaluate; "
            "assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ; "
            "assert matplotlib.rcParams._get_backend_or_none() == backend, matplotlib.rcParams._get_backend_or_none()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]


CLIS = ["train", "evaluate", "ensemble", "saliency", "predict", "results", "bench", "eda", "data", "data.synthetic"]


def test_every_cli_answers_help_without_loading_a_backend():
    """--help (and argument errors) come at once: no Keras / TensorFlow import, no TensorFlow log line."""
    code = ("import runpy, sys\n"
            "for name in sys.argv[1:]:\n"
            "    sys.argv = [name, '--help']\n"
            "    try:\n"
            "        runpy.run_module('fer_keras.' + name, run_name='__main__')\n"
            "    except SystemExit:\n"
            "        pass\n"
            "    assert 'keras' not in sys.modules and 'tensorflow' not in sys.modules, name\n")
    done = subprocess.run([sys.executable, "-c", code, *CLIS], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    assert "usage: python -m fer_keras.train" in done.stdout and done.stderr == ""
