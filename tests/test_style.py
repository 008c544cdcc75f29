"""The code follows setup.cfg's [flake8] settings (line length 120, no unused imports)."""

import subprocess
import sys

from conftest import REPO


def test_flake8_finds_nothing():
    result = subprocess.run([sys.executable, "-m", "flake8", "fer_keras", "tests"], cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
