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


def test_seed_regression_reaches_the_seed_r2_with_3_6_percent_of_the_parameters():
    """The issue's bar: R^2 >= 0.94 on the seed's training data with <= 3.6% of the dense
    parameters, the dense least-squares R^2 printed beside it."""
    fixture = ROOT.parent / "shared" / "fixtures" / "seed000_regression.npz"
    if not fixture.exists():
        pytest.skip("the seed's regression fixture is not beside the repository")
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "seed_regression.py")],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert "the seed's make_regression set" in out.stdout
    share = float(out.stdout.split("parameters, ")[1].split("%")[0])
    assert share <= 3.6
    last = out.stdout.strip().splitlines()[-1]
    assert "dense least-squares train R^2 1.0000" in last
    assert float(last.split()[-1]) >= 0.94, out.stdout
