"""The notebooks: one per variation, thin over the package, stored without outputs, and each runs
top to bottom (nbclient) on a tiny synthetic CSV with injected parameters, like papermill."""

import ast
import json
import os
import sys
import time
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
N_ROWS = 300
"""Rows of the synthetic CSV the notebooks run on (about 240 training, 30 test images)."""

TINY = {"EPOCHS": 1, "PER_CLASS": 40, "SEED": 0, "TIMING_CALLS": 1, "SALIENCY_IMAGES": 4}
"""Injected into every model notebook, with DATA, OUTPUT_DIR and RESULTS_DIR."""

INJECTED = {
    "00_eda": {},
    "01_cnn_lstm_v1_regular": {},  # the default ROS variant
    "02_cnn_lstm_v2_no_duplicates": {"VARIANT": "cnn_lstm_v2_no_duplicates_smote"},
    "03_cnn_lstm_v3_no_conflicts": {"VARIANT": "cnn_lstm_v3_no_conflicts_class_weight"},
    "04_cnn_lstm_v4_no_outliers": {"VARIANT": "cnn_lstm_v4_no_outliers_none", "SALIENCY_METHOD": "occlusion"},
    "05_cnn_lstm_v5_final": {},
    "06_attention_vit": {"SALIENCY_METHOD": "gradient"},
    "07_bialek_custom_cnns": {"VARIANTS": ["five_layer_balanced"], "PER_CLASS": 10},
    # VGG16 at base size 32 trains several times faster here than ResNet50 (frozen base)
    "08_transfer_models": {"VARIANTS": ["vgg16_balanced_filtered"], "MODEL_KWARGS": {"base_size": 32}},
    "09_binary_one_vs_rest": {"MODEL": "five_layer", "PER_CLASS": 6},
    "10_ensembles": {"MEMBERS": ["cnn_lstm_v5_final_none", "cnn_lstm_v5_final_class_weight"]},
    "11_leakage_audit": {},
    # the issue-14 / issue-15 models at CPU size (a width or base size far below the paper's), one variant
    # per family notebook
    "12_resemotenet": {"VARIANT": "resemotenet", "MODEL_KWARGS": {"width": 0.125, "base_size": 32}},
    "13_pattlite": {"VARIANT": "pattlite", "MODEL_KWARGS": {"base_size": 80}},
    # (training a narrower ResNet34, width 0.125 or 0.0625, crashes TensorFlow's oneDNN kernels in fit)
    "14_residual_masking_network": {"VARIANTS": ["resnet34"], "MODEL_KWARGS": {"resnet34": {"width": 0.25}}},
    "15_trinh_2023": {"VARIANTS": ["patch_vit_trinh"],
                      "MODEL_KWARGS": {"patch_vit_trinh": {"dim": 32, "depth": 1, "heads": 2}}},
    "16_bakiasi_2024": {"VARIANTS": ["spp_net_trinh"],
                        "MODEL_KWARGS": {"spp_net_trinh": {"widths": (8, 16), "dense_units": 32}}},
}
"""Notebook → its own tiny settings (short lists where the default list would train for long)."""

BUILD_ONLY = ("12_resemotenet", "13_pattlite", "14_residual_masking_network", "15_trinh_2023")
"""Run up to their first training cell: their models are built with the tiny ``MODEL_KWARGS`` and
summarised, not trained (tens of seconds each on 2 cores). The cells after it are the templates'
(notebooks/build_notebooks.py), executed here by notebooks 01–06 and 16."""


def test_template_notebooks_are_the_templates_output():
    """The single-model notebooks (01–06, 12, 13) and the family notebooks (14–16) are generated
    (notebooks/build_notebooks.py): edit the template."""
    template = template_module()
    generated = {**template.NOTEBOOKS, **template.FAMILIES}
    assert sorted(name[:2] for name in generated) == ["01", "02", "03", "04", "05", "06", "12", "13", "14", "15", "16"]
    for name, entry in generated.items():
        assert (NOTEBOOKS / f"{name}.ipynb").read_text() == template.render(entry), (
            f"{name}.ipynb differs from notebooks/build_notebooks.py: edit the template and run it")


def read(name):
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


def parameters_cell(nb):
    tagged = [i for i, cell in enumerate(nb.cells) if "parameters" in cell.metadata.get("tags", [])]
    assert len(tagged) == 1, f"expected one cell tagged 'parameters', found {len(tagged)}"
    return tagged[0]


def assigned_names(source):
    return {target.id for node in ast.parse(source).body if isinstance(node, ast.Assign)
            for target in node.targets if isinstance(target, ast.Name)}


def bound_names(source):
    """Every name a cell binds: assignments, loop targets, imports."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
    return names


RESULT_NOTEBOOKS = ("17_zoo_cpu_size",)
"""Notebooks that read committed results only: stored executed, with their outputs."""


def template_module():
    import importlib.util

    spec = importlib.util.spec_from_file_location("build_notebooks", NOTEBOOKS / "build_notebooks.py")
    template = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(template)
    return template


def test_there_is_one_notebook_per_variation():
    assert sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb")) == sorted([*INJECTED, *RESULT_NOTEBOOKS])


def cpu_size_runs():
    """The committed ``results/`` rows and, of them, the seven-class FER2013 runs at CPU size (not the binary
    one-vs-rest heads: their accuracy is a binary one)."""
    from fer_keras.evaluation.results import collect

    found = collect(NOTEBOOKS.parent / "results")
    return found, [r for r in found if r["size"] == "cpu" and r["data"].startswith("fer2013") and not r["binary"]]


@pytest.mark.parametrize("name", RESULT_NOTEBOOKS)
def test_a_results_notebook_is_its_template_executed_and_shows_every_cpu_size_run(name):
    from fer_keras.evaluation.results import one_vs_rest_rows

    nb, template = read(name), template_module()
    expected = nbformat.reads(template.render_result_notebook(name), as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in expected.cells], (
        f"{name}.ipynb differs from notebooks/build_notebooks.py: run it with --execute")
    nbformat.validate(nb)
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code"), f"{name}: run it with --execute"
    found, runs = cpu_size_runs()
    votes = one_vs_rest_rows(found)  # the one-vs-rest heads' vote: a confusion matrix, no curves
    assert runs and shown_images(nb) == 2 * len(runs) + len(votes), "every CPU-size run's curves and confusion matrix"
    runs += votes
    shown = output_text(nb) + "".join(o.get("data", {}).get("text/markdown", "") for c in nb.cells
                                      if c.cell_type == "code" for o in c.outputs)
    assert all(r["run"] in shown for r in runs)


ZOO = NOTEBOOKS / "zoo"
ZOO_NOTEBOOKS = sorted(path.stem for path in ZOO.glob("*.ipynb"))
"""The results notebook of each seed family, ``notebooks/zoo/<family>.ipynb``: stored executed, with its outputs."""

ZOO_EXECUTED = "cnn_lstm_first"
"""The one family notebook the slow tier executes again (a kernel start): a TTA run and region runs beside its best."""


def zoo_runs(family):
    """The family's FER2013 runs at CPU size in the committed ``results/``."""
    return [r for r in cpu_size_runs()[1] if r["family"] == family]


def test_every_seed_family_has_its_results_notebook():
    """Every family with a CPU-size FER2013 run in results/ and every registered one, less this project's own
    (baseline_cnn, FERNet): one notebook each, and no other."""
    from fer_keras.models.registry import MODEL_FAMILIES

    template = template_module()
    families = template.zoo_families()
    ran = {r["family"] for r in cpu_size_runs()[1] if r["family"]}
    own = {name for name, family in MODEL_FAMILIES.items() if family.paper.startswith(template.OWN_PAPER)}
    assert {"baseline_cnn", "fernet_s"} <= own and not own & set(families)
    assert (ran | set(MODEL_FAMILIES)) - own == set(families) and len(ran - own) >= 15
    assert all(has_run == (family in ran) for family, has_run in families.items())
    assert ZOO_NOTEBOOKS == sorted(families), "notebooks/zoo/ is out of date: run build_notebooks.py --execute"


def test_a_family_without_a_cpu_size_run_says_so(tmp_path):
    template = template_module()
    families = template.zoo_families(tmp_path)  # a results folder without runs
    assert families and not any(families.values())
    cells = template.zoo_notebook("pattlite", has_run=False)
    assert "No CPU-size run yet" in cells[0][1] and "--variant pattlite --size cpu" in cells[0][1]
    assert [kind for kind, _ in cells] == ["markdown", "parameters", "markdown", "code"]  # the (empty) table


@pytest.mark.parametrize("family", ZOO_NOTEBOOKS)
def test_a_family_results_notebook_is_its_template_executed_and_shows_its_runs(family):
    nb, template, runs = read(f"zoo/{family}"), template_module(), zoo_runs(family)
    expected = nbformat.reads(template.render_zoo_notebook(family, bool(runs)), as_version=4)
    assert [c.source for c in nb.cells] == [c.source for c in expected.cells], (
        f"zoo/{family}.ipynb differs from notebooks/build_notebooks.py: run it with --execute")
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), f"zoo/{family}: run build_notebooks.py with --execute"
    assert not [o for c in code for o in c.outputs if o.output_type == "error"]
    assert all(c.outputs for c in code if "parameters" not in c.metadata.get("tags", []))
    if not runs:
        assert "No CPU-size run yet" in nb.cells[0].source and shown_images(nb) == 0
        return
    learned = [r for r in runs if r["learned"] and not r["region"]]
    assert shown_images(nb) == (2 if learned else 0), "the best learned run's curves and confusion matrix"
    shown = output_text(nb) + "".join(o.get("data", {}).get("text/markdown", "") for c in code for o in c.outputs)
    assert all(r["run"] in shown for r in runs), f"zoo/{family}: a run is missing, run build_notebooks.py --execute"
    if learned:
        assert f"### `{max(learned, key=lambda r: r['accuracy'])['run']}`" in shown


@pytest.mark.slow
def test_a_family_results_notebook_executed_again_is_the_stored_one():
    """One family notebook executed afresh from the committed results/ (one kernel): byte for byte the stored one."""
    template = template_module()
    fresh = template.render_zoo_notebook(ZOO_EXECUTED, bool(zoo_runs(ZOO_EXECUTED)), execute=True)
    assert fresh == (ZOO / f"{ZOO_EXECUTED}.ipynb").read_text(), "run python notebooks/build_notebooks.py --execute"


@pytest.mark.parametrize("name", sorted(INJECTED))
def test_notebook_is_stored_without_outputs(name):
    nb = read(name)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{name}: clear the outputs before committing"
    assert nb.metadata.kernelspec.name == "python3"


@pytest.mark.parametrize("name", sorted(INJECTED))
def test_notebook_opens_with_its_story_and_a_parameters_cell(name):
    nb = read(name)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith(f"# {name[:2]}")
    index = parameters_cell(nb)
    assert index == 1
    names = assigned_names(nb.cells[index].source)
    common = {"DATA", "RESULTS_DIR"} if name == "00_eda" else {
        "DATA", "EPOCHS", "PER_CLASS", "SEED", "OUTPUT_DIR", "RESULTS_DIR", "TIMING_CALLS"}
    assert common <= names


@pytest.mark.parametrize("name", sorted(INJECTED))
def test_later_cells_never_rebind_a_parameter(name):
    """An import or assignment after the parameters cell would silently undo an injected value."""
    nb = read(name)
    index = parameters_cell(nb)
    parameters = assigned_names(nb.cells[index].source)
    for cell in nb.cells[index + 1:]:
        if cell.cell_type == "code":
            assert not parameters & bound_names(cell.source), f"{name}: a cell rebinds a parameter"


@pytest.mark.parametrize("name", sorted([*INJECTED, *RESULT_NOTEBOOKS, *(f"zoo/{f}" for f in ZOO_NOTEBOOKS)]))
def test_notebook_is_thin_over_the_package(name):
    """Cells import, set parameters, call the package and display: no functions, classes, models
    or training loops of their own."""
    for cell in read(name).cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        defined = [type(node).__name__ for node in ast.walk(tree)
                   if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.While))]
        assert not defined, f"{name}: a cell defines {defined}; that belongs in fer_keras/"
        for word in ("keras.layers", "keras.Model", ".fit(", ".compile("):
            assert word not in cell.source, f"{name}: {word!r} in a cell; call fer_keras instead"


@pytest.fixture(scope="module")
def tiny_csv(tmp_path_factory):
    from fer_keras.data.io import write_csv
    from fer_keras.data.synthetic import generate

    return write_csv(generate(n_samples=N_ROWS, seed=0).data, tmp_path_factory.mktemp("notebook_data") / "tiny.csv")


def kernel_manager():
    """A kernel manager for this interpreter's own ipykernel (the native "python3" kernel; a
    ``python3`` kernelspec installed elsewhere, e.g. in the user's folder, is not looked at)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager

    manager = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[]))
    assert manager.kernel_spec.argv[0] == sys.executable
    return manager


def inject(nb, parameters):
    """Papermill's way: a cell tagged ``injected-parameters`` right after the parameters cell."""
    index = parameters_cell(nb)
    unknown = set(parameters) - assigned_names(nb.cells[index].source)
    assert not unknown, f"not parameters of this notebook: {sorted(unknown)}"
    source = "\n".join(f"{key} = {value!r}" for key, value in parameters.items())
    nb.cells.insert(index + 1, nbformat.v4.new_code_cell(source, metadata={"tags": ["injected-parameters"]}))


def shown_images(nb):
    return sum("image/png" in output.get("data", {}) for cell in nb.cells if cell.cell_type == "code"
               for output in cell.outputs)


def tiny_notebook(name, data, folder):
    """The notebook ``name`` with its tiny parameters injected; its outputs go under ``folder``."""
    nb = read(name)
    parameters = {"DATA": str(data), "RESULTS_DIR": str(folder / "results")}
    if name != "00_eda":
        parameters.update(TINY, OUTPUT_DIR=str(folder / "callbacks"))
    parameters.update(INJECTED[name])
    inject(nb, parameters)
    if name in BUILD_ONLY:
        nb.cells = nb.cells[:next(i for i, cell in enumerate(nb.cells) if "train(" in cell.source)]
    return nb


def built_parameters(name):
    """The parameter totals of the models a BUILD_ONLY notebook builds with its tiny settings."""
    from fer_keras.models import build_model
    from fer_keras.training.variants import get_variant

    injected = INJECTED[name]
    if "VARIANTS" in injected:
        return [build_model(get_variant(v).model, **injected["MODEL_KWARGS"].get(v, {})).count_params()
                for v in injected["VARIANTS"]]
    return [build_model(get_variant(injected["VARIANT"]).model, **injected["MODEL_KWARGS"]).count_params()]


def output_text(nb):
    return "\n".join(output.get("text", "") + output.get("data", {}).get("text/plain", "")
                     for cell in nb.cells if cell.cell_type == "code" for output in cell.outputs)


JOBS = int(os.environ.get("FER_KERAS_NOTEBOOK_JOBS", "2"))
"""Notebooks executed at a time (each in its own kernel)."""

LONGEST_FIRST = ("09_binary_one_vs_rest", "10_ensembles", "07_bialek_custom_cnns", "11_leakage_audit",
                 "16_bakiasi_2024")
RUN_TEST = "test_notebook_runs_on_tiny_synthetic_data"


@pytest.fixture(scope="module")
def executed(request, tiny_csv, tmp_path_factory):
    """The notebooks selected for ``RUN_TEST``, each executed in a fresh kernel of this interpreter:
    name → (executed notebook, its folder, the error it raised or None, seconds it took).

    They run ``JOBS`` at a time, longest first: most of a tiny run is single-threaded (kernel
    start-up, imports, TensorFlow tracing), so two kernels on two cores take about half as long
    as one after the other. Every kernel is shut down when its notebook ends, even on an error.
    """
    import asyncio

    from nbclient import NotebookClient

    names = sorted({item.callspec.params["name"] for item in request.session.items
                    if getattr(item, "originalname", None) == RUN_TEST})
    names.sort(key=lambda name: LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST))

    async def run(name, gate):
        folder = tmp_path_factory.mktemp(name)
        workdir = folder / "notebooks"  # relative paths a notebook might use stay inside folder
        workdir.mkdir()
        nb = tiny_notebook(name, tiny_csv, folder)
        async with gate:
            start = time.perf_counter()
            client = NotebookClient(nb, km=kernel_manager(), timeout=600, shutdown_kernel="immediate",
                                    resources={"metadata": {"path": str(workdir)}})
            try:
                await client.async_execute(cleanup_kc=True)
            except Exception as err:  # reported by the notebook's own test
                return name, (nb, folder, err, time.perf_counter() - start)
        return name, (nb, folder, None, time.perf_counter() - start)

    async def run_all():
        gate = asyncio.Semaphore(max(1, JOBS))
        return dict(await asyncio.gather(*(run(name, gate) for name in names)))

    with pytest.MonkeyPatch.context() as patch:  # the kernels import this checkout's fer_keras, not an installed one
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(NOTEBOOKS.parent), os.environ.get("PYTHONPATH")])))
        return asyncio.run(run_all())


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(INJECTED))
def test_notebook_runs_on_tiny_synthetic_data(name, executed):
    nb, folder, error, seconds = executed[name]
    print(f"{name}: {seconds:.0f} s")
    if error is not None:
        raise error
    results = folder / "results"
    if name in BUILD_ONLY:
        shown = output_text(nb)
        for total in built_parameters(name):
            assert f"{total:,}" in shown or str(total) in shown, f"{name}: no model of {total} parameters shown"
        assert "Total params" in shown or "built_parameters" in shown
        return
    assert shown_images(nb) >= 3
    if name == "00_eda":
        summary = json.loads((results / "eda" / "summary.json").read_text())
        assert summary["images"] == N_ROWS and summary["duplicates"]["extra_copies"] > 0
        return
    written = {path.parent.name: json.loads(path.read_text()) for path in results.glob("*/metrics.json")}
    assert written and all(0 <= m["test_accuracy"] <= 1 for m in written.values())
    assert list(results.glob("*/saliency_*.png"))
    if name in ("09_binary_one_vs_rest", "10_ensembles"):
        ensembles = [m for m in written.values() if m.get("members")]
        assert ensembles and all(m["n_test"] > 0 for m in ensembles)
    if name == "16_bakiasi_2024":
        votes = {m["variant"]: m for m in written.values() if m.get("comparison")}
        assert sorted(votes) == ["region_vote", "whole_face_vote"]
        assert votes["region_vote"]["regions"] == ["left_eye", "right_eye", "nose", "mouth", "rest", "whole"]
        assert votes["region_vote"]["comparison"]["n_validation"] > 0 and votes["whole_face_vote"]["n_test"] > 0
    if name == "11_leakage_audit":
        assert sorted(m["leaky"] for m in written.values()) == [False, True]
