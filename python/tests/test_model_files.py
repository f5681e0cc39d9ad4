"""Model files: save -> load round trips, Flatten/Dropout, hostile files, interrupted saves."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import tnswift
from tnswift import ArgumentError, ShapeError, _ext, nn

rng = np.random.default_rng(11)


def every_kind(dtype, seed=0):
    return nn.Sequential(
        nn.Flatten(),
        nn.TTLinear((4, 3, 2), (2, 2, 4), rank=3, dtype=dtype, seed=seed), nn.ReLU(),
        nn.Dropout(0.3, seed=seed),
        nn.EinsumLayer("nij,aik,bjk->nab", [(4, 4, 2), (4, 4, 2)], dtype=dtype, seed=seed + 1), nn.GELU(),
        nn.CPLinear((4, 4), (3, 2), rank=5, dtype=dtype, seed=seed + 2), nn.Tanh(),
        nn.TuckerLinear((3, 2), (2, 3), rank=2, bias=False, dtype=dtype, seed=seed + 3), nn.Sigmoid(),
        nn.Identity(),
        nn.Linear(6, 4, dtype=dtype, seed=seed + 4))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_round_trip_gives_identical_outputs_and_structure(tmp_path, dtype):
    m = every_kind(dtype).eval()
    x = rng.standard_normal((7, 4, 6)).astype(dtype)
    y = m(x)
    path = tmp_path / "model.safetensors"
    m.save(path)
    back = nn.load(path)
    assert [type(s) for s in back.stages] == [type(s) for s in m.stages]
    assert back.stages[3].p == pytest.approx(0.3) and not back.stages[3].training
    assert back.stages[4].equation == "nij,aik,bjk->nab"
    assert back.stages[4].param_shapes == [(4, 4, 2), (4, 4, 2)]
    assert back.stages[8].bias is False
    assert back.stages[6].rank == 5
    np.testing.assert_array_equal(back(x), y)
    for name, value in m.parameters().items():
        np.testing.assert_array_equal(back.parameters()[name], value)
    # The C entry point runs the same file to the same numbers.
    c_model = _ext.model_load(str(path))
    out = np.empty((7, 4), dtype=dtype)
    _ext.model_forward(c_model, np.ascontiguousarray(x.reshape(7, -1)), out)
    np.testing.assert_array_equal(out, y)


def test_loaded_model_trains_like_the_original(tmp_path):
    m = every_kind(np.float64)
    m.save(tmp_path / "m.safetensors")
    back = nn.load(tmp_path / "m.safetensors")
    m.eval()
    x = rng.standard_normal((5, 24))
    dy = rng.standard_normal((5, 4))
    np.testing.assert_array_equal(back(x), m(x))
    np.testing.assert_allclose(back.backward(dy), m.backward(dy), rtol=1e-12, atol=1e-14)
    for name, g in m.grads().items():
        np.testing.assert_allclose(back.grads()[name], g, rtol=1e-12, atol=1e-14)
    # Loaded parameters are views of the loaded layers' storage.
    back.parameters()["11.bias"][...] = 2.5
    assert np.all(back.stages[11].parameters()["bias"] == 2.5)


def test_save_reflects_current_parameters_and_overwrites(tmp_path):
    layer = nn.TTLinear(16, 8, rank=2, dtype=np.float64)
    path = tmp_path / "layer.safetensors"
    layer.save(path)
    layer.parameters()["bias"][...] = 7.0
    layer.save(path)
    back = nn.TTLinear.load(path)
    assert np.all(back.parameters()["bias"] == 7.0)
    np.testing.assert_array_equal(back.to_dense(), layer.to_dense())
    with pytest.raises(ArgumentError, match="not a single CPLinear"):
        nn.CPLinear.load(path)
    nn.Sequential(layer, nn.ReLU(), nn.Linear(8, 2, dtype=np.float64)).save(path)
    with pytest.raises(ArgumentError, match="use tnswift.nn.load"):
        nn.TTLinear.load(path)


def test_unsavable_stage_and_bad_paths(tmp_path):
    class Custom:
        def forward(self, x):
            return x

        def backward(self, dy):
            return dy

        def parameters(self):
            return {}

    with pytest.raises(ArgumentError, match="stage 1 \\(Custom\\) cannot be saved"):
        nn.Sequential(nn.Linear(3, 3), Custom()).save(tmp_path / "x.safetensors")
    with pytest.raises(ValueError):
        nn.Sequential(nn.Linear(3, 3)).save(tmp_path / "no-such-dir" / "x.safetensors")
    with pytest.raises(ValueError, match="No such file|cannot|could not|open"):
        nn.load(tmp_path / "missing.safetensors")
    with pytest.raises(tnswift.DTypeError):
        nn.Sequential(nn.Linear(3, 3, dtype=np.float32), nn.Linear(3, 3, dtype=np.float64)).save(tmp_path / "m")
    with pytest.raises(ShapeError):
        nn.Sequential(nn.Linear(3, 4), nn.Linear(3, 3)).save(tmp_path / "m")


def test_hostile_files_are_rejected_with_a_message(tmp_path):
    path = tmp_path / "m.safetensors"
    every_kind(np.float64).save(path)
    data = path.read_bytes()
    bad = tmp_path / "bad.safetensors"
    # Every truncation point (sampled), then bit flips in the header and a lying length.
    for n in list(range(0, 64)) + list(range(64, len(data), max(1, len(data) // 150))):
        bad.write_bytes(data[:n])
        with pytest.raises(ValueError):
            nn.load(bad)
    header_len = int.from_bytes(data[:8], "little")
    flips = np.random.default_rng(0).integers(8, 8 + header_len, size=200)
    for i in flips:
        mutated = bytearray(data)
        mutated[i] ^= 0x5A
        bad.write_bytes(bytes(mutated))
        try:
            m = nn.load(bad)
        except (ValueError, TypeError):
            continue
        # A flip that still parses (e.g. inside a float's digits) must give a working model.
        assert m(np.ones((1, 24))).shape == (1, 4)
    bad.write_bytes((1 << 62).to_bytes(8, "little") + data[8:])
    with pytest.raises(ValueError):
        nn.load(bad)
    # An edited description: a larger layer than the file holds values for, or a smaller one
    # whose shapes no longer fit the tensors.
    for rank, error, message in ((6, ValueError, "needs 90 values but the file holds only 76"),
                                 (4, ShapeError, "stages.6")):
        edited = data.replace(b'\\"rank\\":5', b'\\"rank\\":%d' % rank)
        assert edited != data
        bad.write_bytes(edited)
        with pytest.raises(error, match=message):
            nn.load(bad)


def test_interrupted_save_leaves_the_previous_file(tmp_path):
    """A process killed while it saves never leaves a half-written file behind."""
    path = tmp_path / "big.safetensors"
    nn.Sequential(nn.Linear(1024, 1024, dtype=np.float64)).save(path)
    reference = nn.load(path).stages[0].to_dense()
    script = textwrap.dedent(f"""
        import numpy as np, sys
        from tnswift import nn
        m = nn.Sequential(nn.Linear(1024, 1024, dtype=np.float64, seed=5))
        print("ready", flush=True)
        while True:
            m.save({str(path)!r})
    """)
    for delay in (0.05, 0.13, 0.31):
        proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
        w = nn.load(path).stages[0].to_dense()  # whole: the old file or a complete new one
        assert w.shape == reference.shape
    # No temporary files are left behind except, at most, the killed writer's own.
    leftovers = [p for p in os.listdir(tmp_path) if p != "big.safetensors"]
    assert len(leftovers) <= 3


def test_flatten_and_dropout():
    f = nn.Flatten()
    x = rng.standard_normal((3, 2, 5))
    assert f(x).shape == (3, 10)
    assert f.backward(np.ones((3, 10))).shape == (3, 2, 5)
    with pytest.raises(ShapeError):
        f.backward(np.ones((3, 9)))
    d = nn.Dropout(0.25, seed=1)
    big = np.ones((400, 500))
    y = d(big)
    kept = y != 0
    assert abs(kept.mean() - 0.75) < 0.01
    np.testing.assert_allclose(y[kept], 1 / 0.75)
    np.testing.assert_array_equal(d.backward(big), y)  # the same mask and scale
    d.eval()
    assert d(big) is not None and np.array_equal(d(big), big)
    np.testing.assert_array_equal(d.backward(big), big)
    for p in (-0.1, 1.0, float("nan")):
        with pytest.raises(ArgumentError):
            nn.Dropout(p)


def test_fit_trains_with_dropout_and_returns_in_inference_mode():
    x = rng.standard_normal((200, 8))
    labels = (x[:, 0] > 0).astype(np.int64)
    m = nn.Sequential(nn.Linear(8, 16, dtype=np.float64), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2, dtype=np.float64))
    from tnswift import optim
    nn.fit(m, optim.Adam(m.stages, lr=1e-2), x, labels, epochs=5, batch_size=32, progress=False)
    assert not m.stages[2].training
    np.testing.assert_array_equal(m(x), m(x))  # deterministic at inference
    assert np.mean(np.argmax(m(x), axis=1) == labels) > 0.9


def _vm_hwm_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM"))


def test_lying_headers_are_rejected_without_allocating_what_they_claim(tmp_path):
    import json
    import struct

    def model_header(n):
        stages = [{"type": "Linear", "in_features": n, "out_features": n}]
        meta = json.dumps({"format": 1, "dtype": "float64", "stages": stages})
        return json.dumps({"__metadata__": {"tnswift.model": meta}}).encode()

    path = tmp_path / "lie.safetensors"
    before = _vm_hwm_kib()
    cases = [
        (b"[" * 100000 + b"]" * 100000, 16, "nesting"),
        (b'{"w":{"dtype":"F64","shape":[4294967296,4294967296],"data_offsets":[0,16]}}', 16, "larger than the file"),
        (b'{"w":{"dtype":"F64","shape":[2],"data_offsets":[0,1099511627776]}}', 16, "offsets outside"),
        (b'{"w":{"dtype":"F64","shape":[-2],"data_offsets":[0,16]}}', 16, "bad shape"),
        # A description naming a 30,000 x 30,000 layer (7 GB) in a file holding no values.
        (model_header(30000), 0, "needs 900030000 values but the file holds only 0"),
        (model_header(10**8), 0, "the file holds only 0"),
    ]
    for header, data, message in cases:
        path.write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * data)
        with pytest.raises(ValueError, match=message):
            nn.load(path)
    # None of them made the process grow by anything like what the headers describe.
    assert _vm_hwm_kib() - before < 64 * 1024
