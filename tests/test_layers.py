"""The folders are the pipeline: data flows one way through the stage folders (``fer_keras.STAGES``), no
module imports a later stage (read from the source, function-local imports included), there is no import
circle, and importing the package changes nothing outside it."""

import ast
import subprocess
import sys

from conftest import REPO

from fer_keras import STAGES

PACKAGE = REPO / "fer_keras"
SHARED = {"fer_keras", "fer_keras.errors", "fer_keras.cli", "fer_keras.constraints", "fer_keras.runtime",
          "fer_keras.files", "fer_keras.figures"}
"""The plumbing below every stage: the top level's modules."""
AFTER = ("bench", "commands")
"""Folders above every stage: speed measurements and the thin command-line modules, which may use anything."""
ORDER = [folder for folder, _ in STAGES] + list(AFTER)
ALLOWED_FORWARD = {("fer_keras.training.train", "fer_keras.evaluation.evaluate")}
"""Training ends by evaluating its run through the one evaluator (one writer of metrics)."""


def stage_of(module):
    """-1 for the shared plumbing, else the index of the module's folder in ``ORDER``."""
    if module in SHARED:
        return -1
    parts = module.split(".")
    assert parts[0] == "fer_keras" and len(parts) > 1 and parts[1] in ORDER, \
        f"{module} is neither shared plumbing nor in a stage folder (fer_keras.STAGES, {AFTER})"
    return ORDER.index(parts[1])


def modules():
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(REPO).with_suffix("")
        name = ".".join(relative.parts)
        yield name.removesuffix(".__init__"), path


def imported(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("fer_keras"):
            for alias in node.names:  # ``from fer_keras.training import distill`` imports a module
                submodule = f"{node.module}.{alias.name}"
                folder = REPO.joinpath(*submodule.split("."))
                yield submodule if folder.with_suffix(".py").is_file() or folder.is_dir() else node.module
        elif isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names if alias.name.startswith("fer_keras"))


def test_no_module_imports_a_later_stage():
    backwards = []
    for name, path in modules():
        for target in imported(path):
            if stage_of(target) > stage_of(name) and (name, target) not in ALLOWED_FORWARD:
                backwards.append(f"{name} imports {target}")
    assert not backwards, "\n".join(backwards)


def test_no_import_circle():
    graph = {name: set(imported(path)) for name, path in modules()}
    index, low, on_stack, stack, circles = {}, {}, set(), [], []

    def visit(node):  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(" ↔ ".join(sorted(component)))

    for name in sorted(graph):
        if name not in index:
            visit(name)
    assert not circles, "\n".join(circles)


def test_the_top_level_holds_the_stage_folders_and_at_most_eight_other_entries():
    entries = {p.name for p in PACKAGE.iterdir() if p.name != "__pycache__"}
    folders = set(ORDER)
    assert folders <= entries
    others = entries - folders
    assert len(others) <= 8, sorted(others)
    assert {p.removesuffix(".py") for p in others if p.endswith(".py")} - {"__init__"} == \
        {name.removeprefix("fer_keras.") for name in SHARED - {"fer_keras"}}


def test_the_readme_architecture_section_lists_the_stage_folders_in_order():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Architecture"):]
    section = section[:section.index("\n## ", 1)]
    listed = [line.split("`")[1].rstrip("/").removeprefix("fer_keras/") for line in section.splitlines()
              if line.startswith("- `fer_keras/")]
    assert listed == [folder for folder, _ in STAGES] + list(AFTER)
    for folder, what in STAGES:  # the same words as the code
        assert f"- `fer_keras/{folder}/` — {what}\n" in section, folder


def test_after_training_nothing_imports_training_or_balancing():
    for name, path in modules():
        if stage_of(name) in (ORDER.index("inference"), ORDER.index("evaluation")):
            found = set(imported(path)) & {"fer_keras.training.train", "fer_keras.data.pre_proc_data"}
            assert not found, f"{name} imports {found}"


def test_importing_the_package_sets_no_environment_variable_and_no_plot_backend():
    code = ("import os, matplotlib; os.environ.pop('TF_CPP_MIN_LOG_LEVEL', None); "
            "backend = matplotlib.rcParams._get_backend_or_none(); "
            "import fer_keras, fer_keras.evaluation.plots, fer_keras.data.eda_plots, fer_keras.evaluation.evaluate; "
            "assert 'TF_CPP_MIN_LOG_LEVEL' not in os.environ; "
            "assert matplotlib.rcParams._get_backend_or_none() == backend, matplotlib.rcParams._get_backend_or_none()")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]


CLIS = ["train", "evaluate", "ensemble", "saliency", "diagnose", "predict", "serve", "tflite", "faces", "results",
        "bench", "eda", "data", "data.synthetic"]
HEAVY = ("keras", "tensorflow", "sklearn", "scipy", "imblearn", "pandas", "cv2", "h5py", "matplotlib", "seaborn",
         "albumentations")
"""What --help must not load: a backend, and the libraries that take most of a second to import."""


def test_every_cli_answers_help_without_loading_a_backend():
    """--help (and argument errors) come at once: no Keras / TensorFlow / scikit-learn / pandas / OpenCV import
    (``fer_keras.cli.lazy_import`` defers them to first use), no TensorFlow log line."""
    code = ("import runpy, sys\n"
            "for name in sys.argv[1:]:\n"
            "    sys.argv = [name, '--help']\n"
            "    try:\n"
            "        runpy.run_module('fer_keras.' + name, run_name='__main__')\n"
            "    except SystemExit:\n"
            "        pass\n"
            f"    loaded = [m for m in {HEAVY!r} if m in sys.modules]\n"
            "    assert not loaded, (name, loaded)\n")
    done = subprocess.run([sys.executable, "-c", code, *CLIS], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert done.returncode == 0, done.stderr[-1500:]
    assert "usage: python -m fer_keras.train" in done.stdout and done.stderr == ""


def test_every_command_answers_help_in_under_a_second_of_cpu():
    """Measured in CPU seconds of a fresh interpreter (startup included), which a busy machine does not inflate."""
    import resource

    slow = {}
    for name in ["train", "evaluate", "ensemble", "predict", "serve", "eda", "data"]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run([sys.executable, "-m", f"fer_keras.{name}", "--help"], capture_output=True, cwd=REPO,
                              timeout=120)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        assert done.returncode == 0, done.stderr
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        if cpu >= 1.0:
            slow[name] = round(cpu, 2)
    assert not slow, slow


def test_the_tests_mirror_the_package_folders():
    """tests/<folder>/ holds the tests of fer_keras/<folder>/; the top level only what spans the package."""
    folders = {p.name for p in (REPO / "tests").iterdir() if p.is_dir() and p.name != "__pycache__"}
    assert folders == set(ORDER), sorted(folders ^ set(ORDER))
    assert all(list((REPO / "tests" / folder).glob("test_*.py")) for folder in folders)
