"""Run folders are validated where they are read (``fer_keras.runs.folder``): a damaged ``config.json``,
``test_split.npz`` or ``history.csv`` is one line naming the file, exit status 2, nothing written —
in evaluate, ensemble, saliency and diagnose. Output targets of the wrong kind are refused before
any work (``--results-dir`` a file, ``bench --out`` a file, ``diagnose --json`` a folder)."""

import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from fer_keras.errors import FERError
from fer_keras.runs.folder import Run, read_history_csv
from fer_keras.training.variants import get_variant


def make_run(folder):
    """A run folder with a valid config, test split and history (no model: every damage below is
    found before the model is loaded)."""
    folder.mkdir(parents=True)
    config = {"variant": get_variant("baseline_cnn").to_dict(), "seed": 0,
              "data": {"source": "synthetic(n=100, seed=0)", "fingerprint": "0123456789abcdef"}}
    (folder / "config.json").write_text(json.dumps(config))
    n = 5
    np.savez_compressed(folder / "test_split.npz", images=np.zeros((n, 48, 48), np.uint8), labels=np.arange(n),
                        emotions=np.arange(n), ids=np.array([f"line {i}" for i in range(n)]),
                        in_training=np.zeros(n, bool))
    (folder / "history.csv").write_text("epoch,accuracy,loss,val_accuracy,val_loss\n0,0.2,1.9,0.21,1.8\n")
    return folder


def pickled_split(path):
    np.savez(path, images=np.array([object()], dtype=object))


def split_with(path, **changes):
    with np.load(path) as found:
        arrays = {key: found[key] for key in found.files}
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})


DAMAGE = {
    "config-empty-object": ("config.json", lambda p: p.write_text("{}"), "has no 'variant' object"),
    "config-list": ("config.json", lambda p: p.write_text("[1, 2]"), "holds a JSON list, not an object"),
    "config-not-utf8": ("config.json", lambda p: p.write_bytes(b"\xff\xfe{\x00"), "is not valid JSON"),
    "config-not-json": ("config.json", lambda p: p.write_text("{variant"), "is not valid JSON"),
    "config-deep": ("config.json", lambda p: p.write_text("[" * 100_000), "is not valid JSON"),
    "config-no-fingerprint": ("config.json", lambda p: p.write_text(json.dumps(
        {"variant": {"name": "x"}, "data": {"source": "s"}})), "has no 'data' object with a 'source' and a"),
    "config-seed": ("config.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "seed": "one"})), "records the seed 'one', not an integer"),
    "config-variant-fields": ("config.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "variant": {"name": "x"}})), "records a variant this version"),
    # mistyped fields that readers use before the variant is rebuilt (TypeError / AttributeError tracebacks before)
    "config-cleaning-int": ("config.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "variant": {**json.loads(p.read_text())["variant"], "cleaning": 5}})),
        "records 'variant.cleaning' as a number, not a list of names"),
    "config-callbacks-list": ("config.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "variant": {**json.loads(p.read_text())["variant"], "callbacks": [1]}})),
        "records 'variant.callbacks' as a list, not an object"),
    "config-label-set-list": ("config.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "data": {**json.loads(p.read_text())["data"], "label_set": ["x"]}})),
        "records 'data.label_set' as a list, not a string"),
    "config-leaky-text": ("config.json", lambda p: p.write_text(json.dumps(
        {**json.loads(p.read_text()), "prepared": {"leaky": "yes"}})),
        "records 'prepared.leaky' as a string, not true or"),
    "split-label-past-the-classes": ("test_split.npz", lambda p: split_with(p, labels=np.full(5, 99)),
                                     "holds labels up to 99, but the run's model has 7 classes"),
    "split-negative-emotion": ("test_split.npz", lambda p: split_with(p, emotions=np.full(5, -1)),
                               "holds negative emotions (-1)"),
    "split-pickled": ("test_split.npz", pickled_split, "cannot be read (Object arrays cannot be loaded"),
    "split-truncated": ("test_split.npz", lambda p: p.write_bytes(p.read_bytes()[:300]), "cannot be read"),
    "split-text": ("test_split.npz", lambda p: p.write_text("hello"), "cannot be read"),
    "split-float-images": ("test_split.npz", lambda p: split_with(p, images=np.zeros((5, 48, 48))),
                           "holds float64 images of shape (5, 48, 48), not N×48×48 uint8"),
    "split-short-labels": ("test_split.npz", lambda p: split_with(p, labels=np.arange(3)),
                           "holds labels of int64 shape (3,), not 5 values"),
    "split-missing": ("test_split.npz", lambda p: split_with(p, emotions=None), "lacks the array(s) emotions"),
    "history-not-utf8": ("history.csv", lambda p: p.write_bytes(b"epoch,loss\n0,\xff\xfe\n"),
                         "is not a readable training history"),
    "history-text": ("history.csv", lambda p: p.write_text("epoch,loss\n0,abc\n"), "is not a training history"),
    "history-no-epoch": ("history.csv", lambda p: p.write_text("a,b\n1,2\n"), "is not a training history"),
}


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    return make_run(tmp_path_factory.mktemp("runs") / "baseline_cnn-20260101-000000")


def damaged_run(good_run, tmp_path, case):
    name, damage, _ = DAMAGE[case]
    run = tmp_path / "callbacks" / good_run.name
    shutil.copytree(good_run, run)
    damage(run / name)
    return run, run / name


def cli_fails(capsys, module, args):
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"fer_keras.{module}").main([str(a) for a in args])
    error = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and len(error.splitlines()) == 1 and "Traceback" not in error, error
    return error


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_a_damaged_run_folder_is_one_line_naming_the_file(good_run, tmp_path, capsys, case):
    run, damaged = damaged_run(good_run, tmp_path, case)
    message = DAMAGE[case][2]
    out = tmp_path / "out"
    commands = [("evaluate", ["--run", run, "--results-dir", out, "--timing-calls", "0"]),
                ("saliency", ["--run", run, "--results-dir", out, "--method", "occlusion"])]
    if case.startswith("config") and case != "config-variant-fields":  # ensemble refuses that as another split
        other = make_run(tmp_path / "callbacks" / "other-20260101-000000")
        commands += [("ensemble", ["--members", other, run, "--results-dir", out]), ("diagnose", [run])]
    for module, args in commands:
        error = cli_fails(capsys, module, args)
        assert message in error, (module, error)
        assert str(damaged) in error or "the run's config.json" in error, (module, error)
    assert not out.exists()


def test_a_valid_run_folder_reads_back(good_run):
    run = Run(good_run)
    assert run.read_config().variant["name"] == "baseline_cnn"
    assert set(run.read_test_split()) == {"images", "labels", "emotions", "ids", "in_training"}
    assert run.best_epoch("val_accuracy") == (1, 1)
    assert read_history_csv(good_run / "missing.csv").empty


def test_a_test_split_is_read_as_its_five_arrays_of_one_length(good_run):
    """Found by the 400-example run-folder fuzz: an extra array of another length (or none) was handed on."""
    path = good_run / "test_split.npz"
    for extra in (np.zeros(7), np.zeros(()), np.array(["x"])):
        split_with(path, extra=extra)
        arrays = Run(good_run).read_test_split()
        assert set(arrays) == {"images", "labels", "emotions", "ids", "in_training"}
        assert {len(a) for a in arrays.values()} == {5}
    split_with(path, ids=np.array(["a", "b"]))
    with pytest.raises(FERError, match="holds ids of <U1 shape \\(2,\\), not 5 values"):
        Run(good_run).read_test_split()


def committed(folder, state):
    """A run folder whose ``backup/state.json`` is ``state`` (a dict, or raw text), beside an epoch's weights."""
    (folder / "backup").mkdir(parents=True)
    (folder / "backup" / "epoch_3.weights.h5").write_bytes(b"weights")
    raw = state if isinstance(state, bytes) else (state if isinstance(state, str) else json.dumps(state)).encode()
    (folder / "backup" / "state.json").write_bytes(raw)
    return Run(folder)


def test_the_committed_state_names_the_epochs_done_and_their_weights(tmp_path):
    from fer_keras.runs.folder import CommittedState

    assert Run(tmp_path).committed_state() is None and Run(tmp_path).committed_epochs() is None
    run = committed(tmp_path, {"epochs_done": 3, "weights": "epoch_3.weights.h5"})
    assert run.committed_state() == CommittedState(3, tmp_path / "backup" / "epoch_3.weights.h5")
    assert run.committed_epochs() == 3


@pytest.mark.parametrize("state, message", [
    ("{", "is damaged"), ("[]", "is damaged"), (b"\xff\xfe{", "is damaged"), ({}, "is damaged"),
    ({"epochs_done": "3", "weights": "epoch_3.weights.h5"}, "is damaged"),
    ({"epochs_done": 3.5, "weights": "epoch_3.weights.h5"}, "is damaged"),
    ({"epochs_done": 3, "weights": ["epoch_3.weights.h5"]}, "is damaged"),
    ({"epochs_done": 3, "weights": "epoch_2.weights.h5"}, "names epoch_2.weights.h5, which is missing"),
    ({"epochs_done": 3, "weights": "../backup/epoch_3.weights.h5"}, "which is missing"),
])
def test_a_damaged_committed_state_is_one_line(tmp_path, state, message):
    run = committed(tmp_path, state)
    with pytest.raises(FERError, match=message) as caught:
        run.committed_state()
    assert "\n" not in str(caught.value) and "--fresh" in str(caught.value)


def test_the_backup_callback_restores_what_the_committed_state_names(tmp_path, monkeypatch):
    """``CommittedBackup`` reads the commit through ``Run.committed_state`` alone (the one reader)."""
    import keras

    from fer_keras.runs.folder import CommittedState
    from fer_keras.training.callbacks import committed_backup

    def model(value):
        inputs = keras.Input((2,))
        dense = keras.layers.Dense(1, kernel_initializer=keras.initializers.Constant(value))
        built = keras.Model(inputs, dense(inputs))
        built.compile(optimizer="sgd", loss="mse")
        return built

    (tmp_path / "backup").mkdir()
    model(0.5).save_weights(tmp_path / "backup" / "epoch_4.weights.h5")
    (tmp_path / "backup" / "state.json").write_text("not read")
    states = []

    def committed_state(run):
        states.append(run.path)
        return CommittedState(4, tmp_path / "backup" / "epoch_4.weights.h5")

    monkeypatch.setattr(Run, "committed_state", committed_state)
    resumed = model(0.0)
    callback = committed_backup(Run(tmp_path))
    callback.set_model(resumed)
    callback.on_train_begin()
    assert states == [tmp_path] and resumed._initial_epoch == 4
    np.testing.assert_allclose(resumed.layers[-1].kernel.numpy(), 0.5)
    callback = committed_backup(Run(tmp_path), since=4)  # a later stage, past the commit: nothing restored
    callback.set_model(fresh := model(0.0))
    callback.on_train_begin()
    np.testing.assert_allclose(fresh.layers[-1].kernel.numpy(), 0.0)


def test_a_header_only_history_is_an_empty_history(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss\n")
    assert read_history_csv(tmp_path / "history.csv").empty
    with pytest.raises(FERError, match="history.csv is not a readable training history"):
        (tmp_path / "history.csv").write_bytes(b"\x00\xff" * 50)
        read_history_csv(tmp_path / "history.csv")


@pytest.mark.parametrize("module, args, message", [
    ("evaluate", ["--run", "RUN", "--results-dir", "FILE"], "--results-dir FILE is a file, not a folder"),
    ("ensemble", ["--members", "RUN", "RUN", "--results-dir", "FILE"], "--results-dir FILE is a file, not a folder"),
    ("saliency", ["--run", "RUN", "--results-dir", "FILE"], "--results-dir FILE is a file, not a folder"),
    ("saliency", ["--run", "RUN", "--results-dir", "FILE/inside"], "lies inside the file FILE"),
    ("bench", ["--out", "FILE"], "--out FILE is a file, not a folder"),
    ("diagnose", ["RUN", "--json", "DIR"], "--json DIR is a folder; give a file name"),
    ("diagnose", ["RUN", "--json", "FILE/d.json"], "lies inside the file FILE"),
])
def test_an_output_of_the_wrong_kind_is_refused_before_any_work(good_run, tmp_path, capsys, module, args, message):
    (tmp_path / "FILE").write_text("keep me")
    (tmp_path / "DIR").mkdir()
    names = {"RUN": str(good_run), "FILE": str(tmp_path / "FILE"), "DIR": str(tmp_path / "DIR")}
    for key, value in names.items():
        message = message.replace(key, value) if key != "RUN" else message
    args = [a.replace("FILE", names["FILE"]) if "FILE" in a else names.get(a, a) for a in args]
    error = cli_fails(capsys, module, args)
    assert message in error, error
    assert (tmp_path / "FILE").read_text() == "keep me" and not list((tmp_path / "DIR").iterdir())


@pytest.mark.parametrize("raw", [b"{", b"[]", b"\xff\xfe", b"{}", b'{"seconds": "x"}', b"[" * 100_000])
def test_a_damaged_trained_json_is_one_line(tmp_path, raw):
    """Found by the bad-input battery: train resuming a finished, unevaluated run with a damaged trained.json
    ended in a JSONDecodeError or KeyError traceback."""
    (tmp_path / "trained.json").write_bytes(raw)
    with pytest.raises(FERError, match="trained.json is damaged: delete it to check and evaluate") as caught:
        Run(tmp_path).read_trained()
    assert "\n" not in str(caught.value)
    (tmp_path / "trained.json").write_text('{"seconds": 12.5, "recipe": "paper"}')
    assert Run(tmp_path).read_trained() == {"seconds": 12.5, "recipe": "paper"}


@pytest.mark.parametrize("file, raw, message", [
    ("trained.json", b"[]", "trained.json is damaged"),
    ("budget.json", b"{", "budget.json is damaged; delete it to restart the budget"),
    ("budget.json", b'{"epoch_seconds": ["x"], "spent_seconds": 1, "planned_epochs": 3}', "budget.json is damaged"),
    ("backup/state.json", b'{"epochs_done": "x"}', "state.json is damaged"),
    ("history.csv", b"\xff\xfe", "history.csv is not a readable training history"),
    ("config.json", None, "records 'resumed' as a string, not a list"),
])
def test_an_interrupted_run_is_read_whole_before_it_is_resumed(good_run, tmp_path, file, raw, message):
    """Found by the bad-input battery: train resuming a run with a damaged budget.json, trained.json or config
    entry ended in a traceback, after it had already rolled the history back and rewritten the config."""
    good_run = Path(shutil.copytree(good_run, tmp_path / "run"))
    path = good_run / file
    path.parent.mkdir(exist_ok=True)
    if raw is None:
        path.write_text(json.dumps({**json.loads(path.read_text()), "resumed": "yesterday"}))
    else:
        path.write_bytes(raw)
    before = {p: p.read_bytes() for p in good_run.rglob("*") if p.is_file()}
    with pytest.raises(FERError, match=message):
        Run(good_run).check_resumable()
    assert {p: p.read_bytes() for p in good_run.rglob("*") if p.is_file()} == before


def test_a_sound_interrupted_run_reads_back(good_run, tmp_path):
    good_run = Path(shutil.copytree(good_run, tmp_path / "run"))
    (good_run / "budget.json").write_text('{"epoch_seconds": [3.5], "spent_seconds": 3.5, "planned_epochs": 4}')
    assert Run(good_run).check_resumable().variant_name == "baseline_cnn"
    assert Run(good_run).read_budget()["planned_epochs"] == 4
