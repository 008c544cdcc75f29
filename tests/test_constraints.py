"""Declared numeric constraints (``fer_keras.constraints``): recipe fields, ``--set`` values and CLI
options that are infinite, NaN, fractional where whole, or absurdly large are one line, exit status
2, nothing written — checked before any work."""

import math

import pytest

from fer_keras.constraints import CONSTRAINTS, check
from fer_keras.errors import FERError
from fer_keras.training.recipes import RECIPES, Recipe, override


@pytest.mark.parametrize("name, value", [
    ("learning_rate", math.inf), ("learning_rate", math.nan), ("learning_rate", 0.0), ("weight_decay", math.nan),
    ("crop_padding", 10**6), ("crop_padding", 2.5), ("cycles", 10**9), ("time_budget", math.inf),
    ("time_budget", 1e12), ("scale_factor", math.nan), ("scale_factor", 1.0), ("ensemble_weight", -1.0),
    ("batch_size", True), ("momentum", "0.9"),
])
def test_a_value_outside_its_declared_range_is_one_line(name, value):
    with pytest.raises(FERError) as caught:
        check(name, value, f"--{name}")
    assert str(caught.value).startswith(f"--{name} must be a ") and "\n" not in str(caught.value)
    assert CONSTRAINTS[name].describe() in str(caught.value)


def test_values_inside_the_ranges_pass_and_whole_floats_become_ints():
    assert check("crop_padding", 4.0) == 4 and isinstance(check("crop_padding", 4.0), int)
    assert check("learning_rate", 1e-3) == 1e-3 and check("learning_rate", None) is None
    for recipe in RECIPES.values():
        assert override(recipe, []) is recipe


@pytest.mark.parametrize("assignment, message", [
    ("learning_rate=inf", "--set learning_rate must be a finite number in (0, 10], got inf"),
    ("learning_rate=nan", "--set learning_rate must be a finite number in (0, 10], got nan"),
    ("weight_decay=nan", "--set weight_decay must be a finite number in [0, 1], got nan"),
    ("crop_padding=400000", "--set crop_padding must be a whole number in [0, 24], got 400000"),
    ("warmup_epochs=1e300", "--set warmup_epochs must be a finite number in [0, 10000], got 1e+300"),
])
def test_set_refuses_non_finite_and_huge_values(assignment, message):
    with pytest.raises(FERError) as caught:
        override(RECIPES["modern"], [assignment])
    assert str(caught.value) == message


def test_a_recipe_built_in_python_is_checked_too():
    with pytest.raises(FERError, match="recipe 'x': weight_decay must be a finite number in"):
        Recipe(name="x", weight_decay=math.nan)


@pytest.mark.parametrize("args, message", [
    (["--scale-factor", "nan"], "--scale-factor must be a finite number in (1, 10), got nan"),
    (["--scale-factor", "inf"], "--scale-factor must be a finite number in (1, 10), got inf"),
    (["--min-face", "0"], "--min-face must be a whole number in [1, 100000], got 0"),
    (["--max-frames", "0"], "--max-frames must be a whole number in [1, 1e+09], got 0"),
])
def test_predict_options_are_checked_before_the_model_loads(args, message, tmp_path, capsys):
    from fer_keras.inference.predict import main

    with pytest.raises(SystemExit) as exit_:
        main([*args, "--model", str(tmp_path / "never_loaded.keras"), str(tmp_path / "x.png")])
    captured = capsys.readouterr()
    assert exit_.value.code == 2 and captured.err.strip() == f"error: {message}" and captured.out == ""


@pytest.mark.parametrize("weights, message", [
    (["nan", "1"], "--weights must be a finite number in [0, 1e+06], got nan"),
    (["inf", "1"], "--weights must be a finite number in [0, 1e+06], got inf"),
    (["-1", "1"], "--weights must be a finite number in [0, 1e+06], got -1"),
    (["0", "0"], "--weights must not all be 0, got 0 0"),
])
def test_ensemble_weights_are_checked_before_any_run_is_read(weights, message, tmp_path, capsys):
    from fer_keras.evaluation.ensemble import main

    with pytest.raises(SystemExit) as exit_:
        main(["--members", "a", "b", "--weights", *weights, "--results-dir", str(tmp_path / "out")])
    assert exit_.value.code == 2 and capsys.readouterr().err.strip() == f"error: {message}"
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("command, argv", [
    ("train", ["--seed", "-1", "--epochs", "1"]),
    ("train", ["--seed", str(2**64), "--epochs", "1"]),
    ("evaluate", ["--model", "never_loaded.keras", "--data", "synthetic", "--seed", "-3"]),
    ("saliency", ["--run", "no_run", "--seed", str(2**32)]),
])
def test_a_seed_outside_what_the_generators_take_is_one_line_before_work(command, argv, tmp_path, monkeypatch,
                                                                         capsys):
    """Found by the bad-input battery: train --seed -1 reached Keras' 'Seed must be between 0 and 2**32 - 1'."""
    import importlib

    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exit_:
        importlib.import_module(f"fer_keras.{command}").main([*argv, "--results-dir", "out"])
    error = capsys.readouterr().err.strip()
    assert exit_.value.code == 2 and error.startswith("error: --seed must be a whole number in [0, 4.29497e+09]")
    assert list(tmp_path.iterdir()) == []
