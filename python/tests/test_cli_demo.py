"""The tnswift command (info, compress, demo, bench) and the C classification example."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tnswift
from tnswift import cli, datasets, nn, optim

ROOT = Path(__file__).resolve().parents[2]
HAVE_DATA = os.path.isdir(datasets.FASHION_MNIST_DIR)
needs_data = pytest.mark.skipif(not HAVE_DATA, reason="dataset-fashion-mnist not installed")


def run_cli(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tnswift", *args], capture_output=True, text=True, timeout=600,
                          cwd=cwd)


def test_info_and_usage():
    out = run_cli("info")
    assert out.returncode == 0, out.stderr
    assert f"tnswift {tnswift.__version__}" in out.stdout and "BLAS" in out.stdout and "threads" in out.stdout
    bad = run_cli("frobnicate")
    assert bad.returncode == 2 and "invalid choice" in bad.stderr


@pytest.fixture(scope="module")
def trained_dense(tmp_path_factory):
    """A dense 784-64-10 MLP trained briefly on Fashion-MNIST (or on random data without it)."""
    if HAVE_DATA:
        xtr, ytr, xte, yte = datasets.fashion_mnist()
        xtr, ytr = xtr[:6000], ytr[:6000]
    else:
        rng = np.random.default_rng(0)
        xtr, xte = rng.random((600, 784), dtype=np.float32), rng.random((100, 784), dtype=np.float32)
        ytr, yte = rng.integers(0, 10, 600), rng.integers(0, 10, 100)
    model = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 10, seed=1))
    nn.fit(model, optim.Adam(model.stages, lr=2e-3), xtr, ytr, epochs=2, progress=False)
    path = tmp_path_factory.mktemp("dense") / "dense.safetensors"
    model.save(path)
    return model, path, xte, yte


def test_compress_function_matches_dense_at_full_rank(trained_dense):
    model, _, x, _ = trained_dense
    # eps well above float32 round-off: the float32 cores' own rounding reaches ~1e-6 here.
    new, report = cli.compress(model, "tt", eps=1e-5, order=2)
    assert [r["stage"] for r in report] == [0, 2]
    assert all(r["relative_error"] <= 1e-5 for r in report)
    np.testing.assert_allclose(new(x[:50]), model(x[:50]), rtol=1e-3, atol=1e-3)
    assert type(new.stages[0]) is nn.TTLinear and new.stages[1] is model.stages[1]
    with pytest.raises(ValueError, match="format"):
        cli.compress(model, "svd", rank=2)


def test_compress_command_writes_a_loadable_smaller_model(trained_dense, tmp_path):
    model, path, x, _ = trained_dense
    out_path = tmp_path / "tt.safetensors"
    args = [str(path), "--format", "tt", "--rank", "4", "-o", str(out_path)] + (["--evaluate"] if HAVE_DATA else [])
    out = run_cli("compress", *args)
    assert out.returncode == 0, out.stderr
    assert "| 0 | 784 -> 64 |" in out.stdout and "x smaller" in out.stdout
    if HAVE_DATA:
        before, after = [float(v) for v in out.stdout.split("test accuracy: ")[1].replace(" before,", "").split()[:2]]
        assert before > 0.7 and after > 0.3
    back = nn.load(out_path)
    assert type(back.stages[0]) is nn.TTLinear and back.stages[0].ranks == (1, 4, 4, 1)
    assert os.path.getsize(out_path) < os.path.getsize(path) / 5
    assert back(x[:3]).shape == (3, 10)
    # Bad requests: a clear message and a non-zero status, no traceback.
    both = run_cli("compress", str(path), "--format", "tt", "--rank", "4", "--eps", "0.1", "-o", str(out_path))
    assert both.returncode != 0 and "exactly one of" in both.stderr
    missing = run_cli("compress", str(tmp_path / "nope.safetensors"), "--format", "cp", "--rank", "2", "-o", "x")
    assert missing.returncode == 1 and "Traceback" not in missing.stderr and "nope.safetensors" in missing.stderr
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    bad = run_cli("compress", str(garbage), "--format", "cp", "--rank", "2", "-o", "x")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


@needs_data
def test_demo_runs_end_to_end_in_small(tmp_path):
    """The demo's whole path (every architecture, the table, the files) on one short epoch."""
    import io

    stream = io.StringIO()
    from tnswift import demo

    rows = demo.run(quick=True, out_dir=str(tmp_path), epochs=1, stream=stream)
    text = stream.getvalue()
    assert [r["name"] for r in rows] == list(demo.architectures())
    dense = rows[0]
    for r in rows[1:]:
        assert r["compression"] >= 20 and r["hidden_params"] * r["compression"] == pytest.approx(dense["hidden_params"])
    assert all(0.5 < r["accuracy"] <= 1 for r in rows)
    assert "| TT rank 10 |" in text and "inference µs/image" in text
    assert "CP conv net" in text and 0.5 < results_conv(tmp_path)["accuracy"] <= 1
    saved = nn.load(tmp_path / "tt_mlp.safetensors")
    assert type(saved.stages[0]) is nn.TTLinear
    results = json.loads((tmp_path / "results.json").read_text())
    assert results["rows"][1]["accuracy"] == rows[1]["accuracy"]
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        assert "no plot" in text
    else:
        png = (tmp_path / "accuracy_vs_params.png").read_bytes()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000


def results_conv(directory):
    return json.loads((directory / "results.json").read_text())["conv_net"]


@needs_data
@pytest.mark.skipif(shutil.which("cc") is None, reason="no C compiler")
def test_c_example_predicts_like_python_on_all_test_images(trained_dense, tmp_path):
    model, path, x_test, _ = trained_dense
    tt_model, _ = cli.compress(model, "tt", rank=6, order=2)
    tt_path = tmp_path / "tt.safetensors"
    tt_model.save(tt_path)
    libdir = os.path.dirname(tnswift.__file__)
    exe = tmp_path / "classify"
    build = subprocess.run(["cc", "-O1", "-I", str(ROOT / "Sources" / "TNSwiftC" / "include"),
                            str(ROOT / "examples" / "c" / "classify.c"), "-L", libdir, "-ltnswift",
                            f"-Wl,-rpath,{libdir}", "-o", str(exe)], capture_output=True, text=True)
    assert build.returncode == 0, build.stderr
    for m, p in ((model, path), (tt_model, tt_path)):
        preds = tmp_path / "preds.txt"
        out = subprocess.run([str(exe), str(p), datasets.FASHION_MNIST_DIR, str(preds)], capture_output=True,
                             text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        c_preds = np.loadtxt(preds, dtype=np.int64)
        py_preds = np.argmax(m.eval()(x_test), axis=1)
        assert c_preds.shape == (10000,)
        assert np.array_equal(c_preds, py_preds), np.flatnonzero(c_preds != py_preds)[:10]
        assert "of 10000 test images right" in out.stdout
    wrong = subprocess.run([str(exe), str(tmp_path / "missing.safetensors")], capture_output=True, text=True)
    assert wrong.returncode == 1 and "cannot load" in wrong.stderr


def test_bench_command_finds_the_checkout(tmp_path):
    # Run from inside the checkout, it hands its arguments to bench/run.py (which rejects this one).
    out = run_cli("bench", "--only", "W99", cwd=str(ROOT / "bench"))
    assert out.returncode == 2 and "unknown workload" in out.stderr
    away = run_cli("bench", cwd=str(tmp_path))
    assert away.returncode != 0 and "source checkout" in away.stderr
