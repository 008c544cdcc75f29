"""``fer-keras <command>``: one console command over every CLI, fast to ask for help."""

import importlib.util
import shutil
import subprocess
import sys

import pytest

from conftest import REPO
from fer_keras.commands import COMMANDS


def run(*args):
    return subprocess.run([sys.executable, "-m", "fer_keras.commands", *args], capture_output=True, text=True,
                          cwd=REPO, timeout=300)


def test_every_command_names_a_module_that_exists():
    assert {"train", "evaluate", "predict", "ensemble", "saliency", "eda", "results", "diagnose", "bench",
            "serve"} <= set(COMMANDS)
    for module, _ in COMMANDS.values():
        assert importlib.util.find_spec(module) is not None, module


def test_the_overview_lists_every_command_and_imports_no_framework():
    code = ("import sys; from fer_keras.commands import main; main(['--help']); "
            "heavy = {'keras', 'tensorflow', 'sklearn', 'pandas'} & set(sys.modules); assert not heavy, heavy")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all(f"  {name} " in done.stdout for name in COMMANDS)


def test_a_command_runs_its_module_with_the_arguments_that_follow():
    done = run("train", "--list")
    assert done.returncode == 0 and "baseline_cnn" in done.stdout and "CPU sizes" in done.stdout
    bad = run("train", "--variant", "nope")
    assert bad.returncode == 2 and "unknown variant 'nope'" in bad.stderr and "Traceback" not in bad.stderr


def test_an_unknown_command_is_one_line_and_exit_2():
    done = run("trian")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "unknown command 'trian'" in done.stderr


@pytest.mark.skipif(shutil.which("fer-keras") is None, reason="the console script is installed by pip install -e .")
def test_the_installed_console_script_answers():
    done = subprocess.run(["fer-keras", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and "fer-keras <command>" in done.stdout
