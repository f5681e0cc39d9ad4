"""The training example runs and learns (on the seed's data where the fixture is present, on
data drawn the same way otherwise)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("fixtures", [None, ""])
def test_seed_regression_learns(fixtures):
    env = dict(os.environ)
    if fixtures is not None:
        env["TNSWIFT_FIXTURES"] = fixtures   # empty: draw the data here
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "seed_regression.py"), "--epochs", "150"],
                         capture_output=True, text=True, timeout=300, env=env)
    assert out.returncode == 0, out.stderr
    final = float(out.stdout.strip().splitlines()[-1].split()[-1])
    assert final > 0.75, out.stdout
