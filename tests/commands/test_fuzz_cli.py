"""Fuzzing the command lines (issue 25 item 8): every CLI's ``main(argv)`` run in-process on argument
lists that hold at least one value it must refuse before any work (a number outside its declared
range or not a number, an unknown name, a missing or unreadable input, an output that is a file),
mixed with random other options and values. Whatever the mix: exit status 2 with the error as the
last line of stderr (argparse's own errors keep their usage line), never a traceback, nothing
written, and no model ever fitted or run. Bounded by default; more examples under the slow marker."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fer_keras.constraints import CONSTRAINTS

EXAMPLES = int(os.environ.get("FER_KERAS_FUZZ_EXAMPLES", 25))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
FUZZ_MORE = settings(FUZZ, max_examples=200)


class WorkStarted(BaseException):
    """A model was fitted or run: a refused value was checked too late (never caught by the CLIs)."""


@pytest.fixture(scope="module")
def no_work():
    """Any fit / predict / evaluate of a Keras model, or a worker process, fails the test instead of working."""
    import subprocess

    from fer_keras.cli import import_keras_quietly

    keras = import_keras_quietly()

    def refuse(*args, **kwargs):
        raise WorkStarted("a model was fitted or run before the bad value was refused")

    with pytest.MonkeyPatch.context() as patch:
        for name in ("fit", "predict", "evaluate", "predict_on_batch", "train_on_batch"):
            patch.setattr(keras.Model, name, refuse)
        patch.setattr(subprocess, "Popen", refuse)
        patch.setattr(subprocess, "run", refuse)
        yield


@pytest.fixture
def workdir(tmp_path, monkeypatch, no_work):
    """A working folder with a few hostile inputs; the cache beside it, so it is watched too."""
    (tmp_path / "empty.csv").write_bytes(b"")
    (tmp_path / "junk.keras").write_bytes(b"PK\x03\x04 not a model")
    (tmp_path / "junk.tflite").write_bytes(b"TFL3?")
    (tmp_path / "folder").mkdir()
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "config.json").write_text("{}")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FER_KERAS_CACHE", str(tmp_path / "cache"))
    return tmp_path


def snapshot(root):
    return sorted((str(p.relative_to(root)), p.stat().st_size if p.is_file() else -1) for p in root.rglob("*"))


# --------------------------------------------------------------------------- what must be refused


def out_of_range(name):
    """Text of numbers outside ``CONSTRAINTS[name]`` (or not whole where it must be)."""
    rule = CONSTRAINTS[name]
    low_open = rule.closed in ("right", "neither")
    high_open = rule.closed in ("left", "neither")
    below = st.floats(max_value=rule.low, exclude_max=not low_open, allow_nan=False)
    above = st.floats(min_value=rule.high, exclude_min=not high_open, allow_nan=False)
    huge = st.integers(int(rule.high) + 1, int(rule.high) * 10**6 + 10**30).map(str)
    options = [below.map(repr), above.map(repr), huge]
    if rule.kind is int:
        options.append(st.floats(rule.low, rule.high).filter(lambda v: not float(v).is_integer()).map(repr))
    return st.one_of(*options)


NOT_NUMBERS = st.one_of(st.sampled_from(["nan", "NaN", "-nan", "inf", "-inf", "Infinity", "1e999", "x", "", " ",
                                         "1,5", "0x10", "--", "½", "1e", "None"]),
                        st.text(max_size=10).filter(lambda s: not _is_number(s)))


def _is_number(text):
    try:
        float(text)
        return True
    except ValueError:
        return False


def constrained(name):
    """What an option constrained by ``CONSTRAINTS[name]`` must refuse."""
    return st.one_of(NOT_NUMBERS, out_of_range(name))


HOSTILE_NUMBER = st.sampled_from(["nan", "inf", "-inf", "1e999", "-1e999", "x", ""])
MISSING = st.one_of(st.just("missing/nothing.csv"),
                    st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00/"),
                            min_size=1, max_size=12).map(lambda s: f"missing/{s}"))
BAD_INPUT = st.one_of(MISSING, st.sampled_from(["empty.csv", "junk.keras", "folder"]))
NOT_A_NAME = st.text(min_size=1, max_size=10).map(lambda s: f"zz{s}")  # no real variant, recipe or label set
A_FILE = st.just("empty.csv")  # an output folder that is a file

REFUSE = {  # command → [(option, what it must refuse)]
    "train": [("--epochs", constrained("epochs")), ("--batch-size", constrained("batch_size")),
              ("--time-budget", constrained("time_budget")), ("--data", BAD_INPUT),
              ("--variant", NOT_A_NAME), ("--recipe", NOT_A_NAME), ("--labels", NOT_A_NAME),
              ("--ferplus-mode", NOT_A_NAME),
              ("--set", st.sampled_from(["learning_rate", "weight_decay", "crop_padding", "cycles", "momentum"])
               .flatmap(lambda key: constrained(key).map(lambda value: f"{key}={value}"))),
              ("--set", NOT_A_NAME.map(lambda key: f"{key}=1")), ("--output-dir", A_FILE),
              ("--results-dir", A_FILE)],
    "evaluate": [("--run", BAD_INPUT), ("--run", st.just("run")), ("--model", BAD_INPUT),
                 ("--timing-calls", constrained("timing_calls")), ("--labels", NOT_A_NAME),
                 ("--model-labels", NOT_A_NAME), ("--tta", NOT_A_NAME)],
    "ensemble": [("--members", BAD_INPUT), ("--members", st.just("run,run")), ("--snapshots", BAD_INPUT),
                 ("--weights", st.lists(HOSTILE_NUMBER, min_size=1, max_size=3).map(",".join)),
                 ("--timing-calls", constrained("timing_calls")), ("--last", HOSTILE_NUMBER),
                 ("--method", NOT_A_NAME), ("--tta", NOT_A_NAME)],
    "predict": [("--min-face", constrained("min_face")), ("--scale-factor", constrained("scale_factor")),
                ("--min-neighbors", constrained("min_neighbors")), ("--batch-size", constrained("batch_size")),
                ("--every", constrained("every")), ("--max-frames", constrained("max_frames")),
                ("--model", BAD_INPUT), ("--detector", NOT_A_NAME), ("--format", NOT_A_NAME),
                ("--tta", NOT_A_NAME), ("--labels", NOT_A_NAME), ("--annotate", A_FILE)],
    "saliency": [("--run", BAD_INPUT), ("--run", st.just("run")), ("--n", HOSTILE_NUMBER),
                 ("--method", NOT_A_NAME), ("--target", NOT_A_NAME)],
    "diagnose": [("--data", BAD_INPUT), ("--faces", HOSTILE_NUMBER), ("--json", st.just("folder"))],
    "eda": [("--data", BAD_INPUT), ("--threshold", HOSTILE_NUMBER), ("--iqr-k", HOSTILE_NUMBER),
            ("--out", A_FILE)],
    "results": [("--results-dir", A_FILE)],
    "bench": [("--model", BAD_INPUT), ("--batch-size", constrained("batch_size")), ("--steps", constrained("steps")),
              ("--rounds", constrained("rounds")), ("--settings", NOT_A_NAME), ("--out", A_FILE),
              ("--vs-tflite", BAD_INPUT), ("--vs-tflite", st.just("junk.keras")), ("--crops-of", BAD_INPUT)],
    "data": [("--data", BAD_INPUT), ("--labels", NOT_A_NAME), ("--ferplus-mode", NOT_A_NAME)],
}

NOISE = {  # options that may come along, with harmless or random values
    "train": ["--seed", "--fresh", "--stream", "--mixed-precision", "--extra-cropped", "--size", "--precise-bn",
              "--per-class", "--devices", "--stages", "--extra-per-class", "--stream-cache"],
    "evaluate": ["--seed", "--validation", "--name", "--variant", "--data"],
    "ensemble": ["--select", "--name", "--regions", "--data"],
    "predict": ["--fast", "--format", "--detector"],
    "saliency": ["--seed", "--layer", "--method", "--target", "--data"],
    "diagnose": ["--faces"],
    "eda": ["--no-cache"],
    "results": [],
    "bench": ["--settings", "--steps"],
    "data": ["--no-cache"],
}
FLAGS = {"--fresh", "--stream", "--mixed-precision", "--extra-cropped", "--validation", "--select", "--fast",
         "--no-cache"}
NOISE_VALUES = st.one_of(st.sampled_from(["0", "1", "-1", "cpu", "paper", "on", "all", "synthetic", "csv", "json",
                                          "haar", "mean", "vote", "jax", "a:1", "conv"]),
                         st.text(max_size=8))


@st.composite
def argvs(draw, command):
    """An argument list for ``command`` holding one value it must refuse, amid random others."""
    option, values = draw(st.sampled_from(REFUSE[command]))
    argv = [option, draw(values)]
    for extra in draw(st.lists(st.sampled_from(NOISE[command]), max_size=3, unique=True)) if NOISE[command] else []:
        if extra == option:
            continue
        pair = [extra] if extra in FLAGS else [extra, draw(NOISE_VALUES)]
        argv = pair + argv if draw(st.booleans()) else argv + pair
    if command == "predict":
        argv = [draw(st.sampled_from(["missing.png", "empty.csv", "folder"]))] + argv
    if command == "data":
        argv = ["info"] + argv
    if draw(st.booleans()) and command in ("train", "evaluate", "ensemble", "saliency"):
        argv += ["--results-dir", "out/results"]  # a folder that must not appear
    if command == "train":
        argv += ["--output-dir", "out/callbacks"] if "--output-dir" not in argv else []
    return argv


def main_of(command):
    import importlib

    module = importlib.import_module("fer_keras.data.__main__" if command == "data" else f"fer_keras.{command}")
    return module.main


def refused_in_one_line(command, argv, root, capsys):
    """Run ``main(argv)``: exit 2, the error the last line of stderr, no traceback, nothing written."""
    main = main_of(command)
    capsys.readouterr()
    before = snapshot(root)
    with pytest.raises(SystemExit) as exited:
        main(argv)
    out, err = capsys.readouterr()
    code = exited.value.code
    assert code == 2, f"{command} {argv!r}: exit {code!r}; stderr {err!r}"
    lines = err.strip().splitlines()
    assert lines and "Traceback" not in err, f"{command} {argv!r}: {err!r}"
    last = lines[-1]
    argparse_error = lines[0].startswith("usage:") and ": error: " in last
    assert argparse_error or (len(lines) == 1 and last.startswith("error: ")), f"{command} {argv!r}: {err!r}"
    assert snapshot(root) == before, f"{command} {argv!r} wrote {set(snapshot(root)) - set(before)}"
    return last


COMMANDS = sorted(REFUSE)


@pytest.mark.parametrize("command", COMMANDS)
def test_every_cli_refuses_a_bad_value_in_one_line_and_writes_nothing(command, workdir, capsys):
    @FUZZ
    @given(argv=argvs(command))
    def check(argv):
        refused_in_one_line(command, argv, workdir, capsys)

    check()


@pytest.mark.slow
@pytest.mark.parametrize("command", COMMANDS)
def test_every_cli_refuses_a_bad_value_in_one_line_and_writes_nothing_more(command, workdir, capsys):
    @FUZZ_MORE
    @given(argv=argvs(command))
    def check(argv):
        refused_in_one_line(command, argv, workdir, capsys)

    check()


@pytest.mark.parametrize("command, argv", [
    # the 200-example fuzz's find: the refused value, then a good one for the same option (argparse kept the last)
    ("train", ["--results-dir", "empty.csv", "--mixed-precision", "--results-dir", "out/results", "--output-dir",
               "out/callbacks"]),
    ("train", ["--epochs", "2", "--epochs", "3", "--output-dir", "out/callbacks"]),
    ("evaluate", ["--run", "run", "--run", "folder"]),
])
def test_an_option_given_twice_with_two_values_is_refused_before_work(command, argv, workdir, capsys):
    assert "given twice" in refused_in_one_line(command, argv, workdir, capsys)


def test_the_same_value_twice_and_repeatable_options_are_accepted():
    from fer_keras.cli import ArgumentParser

    parser = ArgumentParser()
    parser.add_argument("--results-dir", default="results")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--set", action="append", default=[])
    args = parser.parse_args(["--epochs", "3", "--epochs", "3", "--set", "a=1", "--set", "b=2"])
    assert vars(args) == {"results_dir": "results", "epochs": 3, "set": ["a=1", "b=2"]}


def test_the_fuzzed_inputs_exist(workdir):
    assert sorted(os.listdir(workdir)) == ["empty.csv", "folder", "junk.keras", "junk.tflite", "run"]
