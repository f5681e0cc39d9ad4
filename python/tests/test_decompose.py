"""tnswift.decompose against NumPy float64 references: exact low-rank inputs are recovered,
eps guarantees hold, TT algebra matches the dense tensors, callbacks and interrupts work, and
every bad input raises the documented exception."""

import math
import subprocess
import sys

import numpy as np
import pytest

import tnswift
from tnswift import ArgumentError, DTypeError, ShapeError, TNError
from tnswift import decompose as D

TOL = {np.float64: 1e-10, np.float32: 1e-5}


# ---------------------------------------------------------------------------- references

def random_tt_cores(rng, shape, ranks, dtype=np.float64):
    r = [1] + list(ranks) + [1]
    return [rng.standard_normal((r[k], n, r[k + 1])).astype(dtype) for k, n in enumerate(shape)]


def tt_dense_ref(cores):
    """Dense tensor of TT cores, in float64 with NumPy."""
    out = np.ones((1, 1))
    for c in cores:
        c = c.astype(np.float64)
        out = np.einsum("ab,bnc->anc", out, c).reshape(-1, c.shape[2])
    return out.reshape([c.shape[1] for c in cores])


def ttm_dense_ref(cores):
    """The (prod in, prod out) matrix of TT-matrix cores (r, m, n, r)."""
    d = len(cores)
    out = np.ones((1, 1, 1))  # (rows, cols, r)
    for c in cores:
        c = c.astype(np.float64)
        out = np.einsum("ijb,bmnc->imjnc", out, c)
        out = out.reshape(out.shape[0] * out.shape[1], out.shape[2] * out.shape[3], c.shape[3])
    assert d == len(cores)
    return out[:, :, 0]


def cp_dense_ref(weights, factors):
    d = len(factors)
    letters = "abcdefgh"[:d]
    spec = "z," + ",".join(f"{l}z" for l in letters) + "->" + letters
    return np.einsum(spec, weights.astype(np.float64), *[f.astype(np.float64) for f in factors])


def tucker_dense_ref(core, factors):
    out = core.astype(np.float64)
    for k, f in enumerate(factors):
        out = np.moveaxis(np.tensordot(f.astype(np.float64), out, axes=([1], [k])), 0, k)
    return out


def rel(a, b):
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    return np.linalg.norm((a - b).ravel()) / np.linalg.norm(b.ravel())


# ---------------------------------------------------------------------------- tensor train

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tt_svd_recovers_exact_low_rank(rng, dtype):
    shape, ranks = (4, 5, 6, 3), (2, 3, 2)
    x = tt_dense_ref(random_tt_cores(rng, shape, ranks)).astype(dtype)
    eps = 1e-10 if dtype == np.float64 else 1e-5
    tt = D.tensor_train(x, eps=eps)
    assert tt.dtype == dtype and all(c.dtype == dtype for c in tt.cores)
    assert tt.shape == shape
    assert tt.ranks == [1, 2, 3, 2, 1]
    assert rel(tt_dense_ref(tt.cores), x) <= TOL[dtype]
    assert rel(tt.to_dense(), x) <= TOL[dtype]
    assert tt.rel_error(x) <= TOL[dtype]
    assert tt.n_params == sum(c.size for c in tt.cores)
    assert tt.errors == []
    # no eps, no rank: exact to rounding
    assert D.tensor_train(x).rel_error(x) <= TOL[dtype]


def test_tt_rank_forms(rng):
    x = rng.standard_normal((3, 4, 5, 2))
    assert D.tensor_train(x, rank=2).ranks == [1, 2, 2, 2, 1]
    assert D.tensor_train(x, rank=[1, 3, 2]).ranks == [1, 1, 3, 2, 1]
    assert D.tensor_train(x, rank=[1, 2, 3, 2, 1]).ranks == [1, 2, 3, 2, 1]
    assert D.tensor_train(x, rank=np.int64(2)).ranks == [1, 2, 2, 2, 1]
    with pytest.raises(ShapeError, match="1"):
        D.tensor_train(x, rank=[2, 2, 3, 2, 2])
    with pytest.raises(ShapeError, match="entries"):
        D.tensor_train(x, rank=[2, 2])


def test_tt_eps_guarantee(rng):
    for case in range(12):
        d = int(rng.integers(2, 5))
        shape = tuple(int(n) for n in rng.integers(2, 7, size=d))
        x = rng.standard_normal(shape)
        if case % 2:
            x = tt_dense_ref(random_tt_cores(rng, shape, [2] * (d - 1))) + 0.05 * x
        eps = float(rng.uniform(0.02, 0.6))
        tt = D.tensor_train(x, eps=eps)
        assert tt.rel_error(x) <= eps * (1 + 1e-12), (shape, eps)
        # rounding keeps its own guarantee
        rounded = tt.round(eps=eps)
        assert rel(rounded.to_dense(), tt.to_dense()) <= eps * (1 + 1e-12)


def test_tt_strided_input_matches_contiguous(rng):
    x = rng.standard_normal((5, 4, 6))
    view = x.transpose(2, 0, 1)[:, ::2, :]
    assert not view.flags.c_contiguous
    a = D.tensor_train(view, eps=0.1)
    b = D.tensor_train(np.ascontiguousarray(view), eps=0.1)
    assert a.ranks == b.ranks
    np.testing.assert_allclose(a.to_dense(), b.to_dense(), rtol=0, atol=1e-12)


def test_tt_algebra(rng):
    shape = (3, 4, 5, 3)
    x = tt_dense_ref(random_tt_cores(rng, shape, (2, 3, 2)))
    y = tt_dense_ref(random_tt_cores(rng, shape, (3, 2, 2)))
    tx, ty = D.tensor_train(x, eps=1e-12), D.tensor_train(y, eps=1e-12)
    assert math.isclose(tx.inner(ty), float(np.vdot(x, y)), rel_tol=1e-10, abs_tol=1e-10 * np.linalg.norm(x) * np.linalg.norm(y))
    assert math.isclose(tx.norm(), float(np.linalg.norm(x)), rel_tol=1e-12)
    s = tx + ty
    assert s.ranks == [1] + [a + b for a, b in zip(tx.ranks[1:-1], ty.ranks[1:-1])] + [1]
    assert rel(s.to_dense(), x + y) <= 1e-12
    # x + x has doubled ranks; rounding to eps gives ranks no larger than TT-SVD's
    eps = 1e-8
    doubled = tx + tx
    assert doubled.ranks[1:-1] == [2 * r for r in tx.ranks[1:-1]]
    rounded = doubled.round(eps=eps)
    direct = D.tensor_train(2 * x, eps=eps)
    assert all(a <= b for a, b in zip(rounded.ranks, direct.ranks))
    assert rel(rounded.to_dense(), 2 * x) <= eps
    assert doubled.round(rank=1).ranks == [1, 1, 1, 1, 1]
    # float32 cores mix with float64 by promotion
    t32 = D.TTTensor([c.astype(np.float32) for c in tx.cores])
    assert t32.dtype == np.float32
    assert (t32 + tx).dtype == np.float64
    with pytest.raises(ShapeError):
        tx.inner(D.tensor_train(rng.standard_normal((3, 4, 5, 2))))


def test_tt_constructor_validates(rng):
    cores = random_tt_cores(rng, (3, 4, 5), (2, 2))
    assert D.TTTensor(cores).shape == (3, 4, 5)
    with pytest.raises(ShapeError, match="core 1"):
        D.TTTensor([cores[0], cores[2], cores[1]])
    with pytest.raises(ShapeError, match="3-D"):
        D.TTTensor([cores[0][0]])
    with pytest.raises(ShapeError, match="left rank 1"):
        D.TTTensor(cores[1:])
    with pytest.raises(ShapeError):
        D.TTTensor([])
    with pytest.raises(DTypeError):
        D.TTTensor([c.astype(np.int32) for c in cores])


# ---------------------------------------------------------------------------- TT-matrix

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tt_matrix_recovers_exact(rng, dtype):
    in_modes, out_modes, ranks = (2, 3, 4), (4, 2, 3), (1, 3, 2, 1)
    cores = [rng.standard_normal((ranks[k], in_modes[k], out_modes[k], ranks[k + 1])) for k in range(3)]
    w = ttm_dense_ref(cores).astype(dtype)
    assert w.shape == (24, 24)
    eps = 1e-10 if dtype == np.float64 else 1e-5
    m = D.tt_matrix(w, in_modes, out_modes, eps=eps)
    assert isinstance(m, D.TTMatrix) and m.dtype == dtype
    assert m.in_modes == in_modes and m.out_modes == out_modes
    assert m.ranks == [1, 3, 2, 1]
    assert m.shape == (24, 24)
    assert all(c.shape == (ranks[k], in_modes[k], out_modes[k], ranks[k + 1]) for k, c in enumerate(m.cores))
    assert rel(ttm_dense_ref(m.cores), w) <= TOL[dtype]
    assert rel(m.to_matrix(), w) <= TOL[dtype]
    np.testing.assert_array_equal(m.to_dense(), m.to_matrix())
    assert m.rel_error(w) <= TOL[dtype]
    # y = x @ w with the reconstructed layer
    xin = rng.standard_normal((5, 24)).astype(dtype)
    assert rel(xin @ m.to_matrix(), xin.astype(np.float64) @ w.astype(np.float64)) <= 10 * TOL[dtype]


def test_tt_matrix_rectangular_round_and_algebra(rng):
    w = rng.standard_normal((12, 30))
    m = D.tt_matrix(w, [3, 4], [5, 6], eps=0.2)
    assert m.shape == (12, 30) and m.rel_error(w) <= 0.2 + 1e-12
    full = D.tt_matrix(w, [3, 4], [5, 6])
    assert full.rel_error(w) <= 1e-12
    assert math.isclose(full.norm(), float(np.linalg.norm(w)), rel_tol=1e-12)
    s = (full + full).round(eps=1e-10)
    assert isinstance(s, D.TTMatrix) and s.ranks == full.ranks
    assert rel(s.to_matrix(), 2 * w) <= 1e-10
    capped = full.round(rank=2)
    assert capped.ranks == [1, 2, 1] and capped.in_modes == (3, 4)
    with pytest.raises(ArgumentError):
        full.inner(D.tensor_train(rng.standard_normal((15, 24))))


def test_tt_matrix_errors(rng):
    w = rng.standard_normal((12, 30))
    with pytest.raises(ShapeError, match="12"):
        D.tt_matrix(w, [3, 5], [5, 6])
    with pytest.raises(ShapeError, match="30"):
        D.tt_matrix(w, [3, 4], [5, 5])
    with pytest.raises(ShapeError, match="same length"):
        D.tt_matrix(w, [3, 4], [30])
    with pytest.raises(ShapeError, match="matrix"):
        D.tt_matrix(rng.standard_normal((3, 4, 5)), [3], [20])
    with pytest.raises(ValueError):
        D.tt_matrix(w, [3, 4], [5, 6], rank=0)
    with pytest.raises(ShapeError):
        D.TTMatrix([rng.standard_normal((1, 2, 3, 2)), rng.standard_normal((3, 2, 2, 1))])
    with pytest.raises(ShapeError, match="4-D"):
        D.TTMatrix([rng.standard_normal((1, 6, 1))])


def test_balanced_modes():
    assert D.balanced_modes(1024, 5) == [4, 4, 4, 4, 4]
    assert D.balanced_modes(4096, 4) == [8, 8, 8, 8]
    assert D.balanced_modes(13, 3) == [13, 1, 1]
    assert math.prod(D.balanced_modes(720, 3)) == 720
    with pytest.raises(ValueError):
        D.balanced_modes(0, 3)
    with pytest.raises(ValueError):
        D.balanced_modes(12, 0)
    with pytest.raises(ArgumentError):
        D.balanced_modes(12.5, 2)


# ---------------------------------------------------------------------------- CP

def random_cp(rng, shape, rank, dtype=np.float64):
    factors = [rng.standard_normal((n, rank)) for n in shape]
    weights = np.ones(rank)
    return weights, factors, cp_dense_ref(weights, factors).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_parafac_recovers_exact_from_perturbed_truth(rng, dtype):
    weights, factors, x = random_cp(rng, (5, 6, 4), 3, dtype)
    start = D.CPTensor(weights, [f + 0.05 * rng.standard_normal(f.shape) for f in factors])
    cp = D.parafac(x, 3, init=start, tol=0, n_iter_max=300)
    assert cp.dtype == dtype and cp.weights.shape == (3,)
    assert [f.shape for f in cp.factors] == [(5, 3), (6, 3), (4, 3)]
    assert rel(cp_dense_ref(cp.weights, cp.factors), x) <= TOL[dtype]
    assert cp.rel_error(x) <= TOL[dtype]
    assert len(cp.errors) == 300
    assert cp.rank == 3 and cp.shape == (5, 6, 4) and cp.n_params == 3 * (1 + 15)
    # unit-norm columns, scale in the weights
    for f in cp.factors:
        np.testing.assert_allclose(np.linalg.norm(f.astype(np.float64), axis=0), 1, rtol=1e-4)
    w, fs = cp
    assert w is cp.weights and fs is cp.factors


def test_parafac_svd_and_random_init(rng):
    _, _, x = random_cp(rng, (6, 5, 4), 2)
    cp = D.parafac(x, 2, n_iter_max=500, tol=0)
    assert cp.rel_error(x) <= 1e-8
    a = D.parafac(x, 2, init="random", random_state=7, n_iter_max=10)
    b = D.parafac(x, 2, init="random", random_state=7, n_iter_max=10)
    np.testing.assert_array_equal(a.weights, b.weights)
    c = D.parafac(x, 2, init="random", random_state=np.random.default_rng(3), n_iter_max=3)
    assert len(c.errors) == 3
    # tuple (weights, factors) works as init, like TensorLy's CPTensor
    d = D.parafac(x, 2, init=(cp.weights, cp.factors), n_iter_max=2, tol=0)
    assert d.rel_error(x) <= 1e-8


def test_parafac_matches_tensorly(rng):
    tl = pytest.importorskip("tensorly")
    from tensorly.decomposition import parafac as tl_parafac

    x = rng.standard_normal((6, 5, 4))
    start = D.CPTensor(np.ones(3), [rng.standard_normal((n, 3)) for n in x.shape])
    ours = D.parafac(x, 3, init=start, n_iter_max=50, tol=0)
    theirs = tl_parafac(tl.tensor(x), 3, init=tl.cp_tensor.CPTensor((start.weights.copy(), [f.copy() for f in start.factors])),
                        n_iter_max=50, tol=0)
    their_error = rel(tl.cp_to_tensor(theirs), x)
    assert ours.rel_error(x) <= their_error + 1e-9


# ---------------------------------------------------------------------------- Tucker

@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("method", ["hooi", "hosvd"])
def test_tucker_recovers_exact(rng, dtype, method):
    core = rng.standard_normal((2, 3, 2))
    factors = [rng.standard_normal((n, r)) for n, r in zip((5, 6, 4), core.shape)]
    x = tucker_dense_ref(core, factors).astype(dtype)
    t = D.tucker(x, [2, 3, 2], method=method, tol=0, n_iter_max=10)
    assert t.dtype == dtype and t.ranks == (2, 3, 2) and t.shape == (5, 6, 4)
    assert rel(tucker_dense_ref(t.core, t.factors), x) <= TOL[dtype]
    assert t.rel_error(x) <= TOL[dtype]
    for f in t.factors:
        np.testing.assert_allclose(f.T.astype(np.float64) @ f, np.eye(f.shape[1]), atol=10 * TOL[dtype])
    assert len(t.errors) >= 1
    c, fs = t
    assert c is t.core and fs is t.factors
    assert t.n_params == t.core.size + sum(f.size for f in t.factors)


def test_tucker_rank_forms_and_eps(rng):
    x = rng.standard_normal((5, 6, 4))
    assert D.tucker(x, 2).ranks == (2, 2, 2)
    t = D.tucker(x, eps=0.3, method="hosvd")
    assert t.rel_error(x) <= 0.3 + 1e-12
    with pytest.raises(ShapeError, match="entries"):
        D.tucker(x, [2, 2])


# ---------------------------------------------------------------------------- callbacks

def test_callbacks_are_called(rng):
    x = rng.standard_normal((4, 5, 6, 3))
    seen = []
    D.tensor_train(x, eps=0.1, callback=lambda s, t, e: seen.append((s, t, e)))
    assert seen == [(1, 3, None), (2, 3, None), (3, 3, None)]
    seen.clear()
    cp = D.parafac(x, 2, n_iter_max=5, tol=0, callback=lambda s, t, e: seen.append((s, t, e)))
    assert [s for s, _, _ in seen] == [1, 2, 3, 4, 5] and all(t == 5 for _, t, _ in seen)
    assert [e for _, _, e in seen] == pytest.approx(cp.errors)
    seen.clear()
    D.tucker(x, 2, n_iter_max=4, tol=0, callback=lambda *a: seen.append(a))
    assert len(seen) >= 1
    seen.clear()
    D.tt_matrix(rng.standard_normal((12, 20)), [3, 4], [4, 5], callback=lambda *a: seen.append(a))
    assert seen == [(1, 1, None)]


def test_callback_stops(rng):
    x = rng.standard_normal((4, 5, 6))

    class Stop(Exception):
        pass

    def raising(step, total, err):
        if step == 2:
            raise Stop("enough")

    with pytest.raises(Stop, match="enough"):
        D.parafac(x, 2, n_iter_max=50, tol=0, callback=raising)
    with pytest.raises(Stop):
        D.tensor_train(x, callback=raising)
    with pytest.raises(TNError, match="interrupted"):
        D.tucker(x, 2, tol=0, callback=lambda s, t, e: False)
    with pytest.raises(TNError, match="interrupted"):
        D.tensor_train(x, callback=lambda s, t, e: s < 2)
    # any value other than False continues
    D.tensor_train(x, callback=lambda s, t, e: 0)


def test_keyboard_interrupt_propagates(rng):
    x = rng.standard_normal((4, 5, 6))
    calls = []

    def interrupt(step, total, err):
        calls.append(step)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        D.parafac(x, 2, n_iter_max=50, tol=0, callback=interrupt)
    assert calls == [1]
    with pytest.raises(KeyboardInterrupt):
        D.tucker(x, 2, callback=interrupt)


def test_sigint_stops_a_run(rng):
    """A pending SIGINT (Ctrl-C) stops the run through the trampoline even without a callback."""
    import signal
    import threading

    import time

    x = rng.standard_normal((30, 30, 30))
    timer = threading.Timer(0.05, lambda: signal.raise_signal(signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            # Each run is short; the signal lands in one of them. Runs go on until it does
            # (or 60 s pass): on a busy machine the timer thread may start late.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                D.parafac(x, 5, init="random", random_state=1, n_iter_max=20, tol=0)
    finally:
        timer.cancel()


# ---------------------------------------------------------------------------- memory

# The peak is VmHWM (this process's own high-water mark): ru_maxrss would start from the
# parent's size after fork, so a large parent (with torch loaded) would hide the growth.
_PEAK_SCRIPT = """
import sys
import numpy as np
import tnswift.decompose as D
def peak_kib():
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
x = np.random.default_rng(0).standard_normal((4096, 4096), dtype=np.float32)  # 64 MiB
before = peak_kib()
D.tensor_train(x if sys.argv[1] == "contiguous" else x.T, rank=8)
print((peak_kib() - before) / 1024)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="VmHWM in /proc is Linux's")
def test_contiguous_input_is_not_copied():
    """A capped TT-SVD reads a C-contiguous input in place (the randomized SVD only reads it),
    so the peak memory barely grows; a transposed view is packed once (+64 MiB)."""
    def growth(layout):
        out = subprocess.run([sys.executable, "-c", _PEAK_SCRIPT, layout], check=True,
                             capture_output=True, text=True, timeout=120)
        return float(out.stdout.strip().splitlines()[-1])

    assert growth("contiguous") < 32
    assert growth("transposed") > 48


# ---------------------------------------------------------------------------- bad input

BAD = [
    ("int_dtype", lambda x: D.tensor_train(x.astype(np.int64)), DTypeError, "astype"),
    ("complex_dtype", lambda x: D.parafac(x.astype(np.complex128), 2), DTypeError, "complex"),
    ("none", lambda x: D.tucker(None, 2), DTypeError, "None"),
    ("nan", lambda x: D.tensor_train(np.where(x > 1, np.nan, x)), ValueError, "NaN"),
    ("inf_cp", lambda x: D.parafac(np.where(x > 1, np.inf, x), 2), ValueError, "NaN|infinity"),
    ("inf_tucker", lambda x: D.tucker(np.where(x > 1, np.inf, x), 2), ValueError, "NaN|infinity"),
    ("tt_rank_0", lambda x: D.tensor_train(x, rank=0), ValueError, "at least 1"),
    ("tt_eps_negative", lambda x: D.tensor_train(x, eps=-0.1), ValueError, "eps"),
    ("tt_eps_nan", lambda x: D.tensor_train(x, eps=float("nan")), ValueError, "eps"),
    ("tt_eps_text", lambda x: D.tensor_train(x, eps="big"), ArgumentError, "eps"),
    ("tt_scalar", lambda x: D.tensor_train(np.float64(3.0)), ShapeError, "mode"),
    ("tt_empty_mode", lambda x: D.tensor_train(np.ones((3, 0))), ShapeError, "0"),
    ("cp_rank_0", lambda x: D.parafac(x, 0), ValueError, "rank"),
    ("cp_rank_huge", lambda x: D.parafac(x, 10**6), ValueError, "rank"),
    ("cp_rank_float", lambda x: D.parafac(x, 2.5), ArgumentError, "rank"),
    ("cp_order_1", lambda x: D.parafac(x[:, 0, 0], 1), ShapeError, "order"),
    ("cp_bad_init", lambda x: D.parafac(x, 2, init="magic"), ArgumentError, "svd"),
    ("cp_init_shape", lambda x: D.parafac(x, 2, init=D.CPTensor(np.ones(2), [np.ones((4, 2)), np.ones((4, 2)), np.ones((4, 2))])),
     ShapeError, "factor"),
    ("cp_init_rank", lambda x: D.parafac(x, 3, init=D.CPTensor(np.ones(2), [np.ones((n, 2)) for n in x.shape])),
     ShapeError, "weights|rank"),
    ("cp_negative_iters", lambda x: D.parafac(x, 2, n_iter_max=-1), ValueError, "iteration"),
    ("cp_bad_seed", lambda x: D.parafac(x, 2, init="random", random_state=-3), ArgumentError, "random_state"),
    ("cp_callback_not_callable", lambda x: D.parafac(x, 2, callback=3), ArgumentError, "callable"),
    ("tucker_rank_0", lambda x: D.tucker(x, 0), ValueError, "0"),
    ("tucker_rank_too_big", lambda x: D.tucker(x, [9, 2, 2]), ValueError, "9"),
    ("tucker_method", lambda x: D.tucker(x, 2, method="svd"), ArgumentError, "hooi"),
    ("tucker_no_rank_no_eps", lambda x: D.tucker(x), ValueError, "ranks, eps"),
    ("tucker_eps_negative", lambda x: D.tucker(x, eps=-1), ValueError, "eps"),
    ("cp_ctor_weights", lambda x: D.CPTensor(np.ones((2, 2)), [np.ones((3, 2))]), ShapeError, "weights"),
    ("cp_ctor_factor", lambda x: D.CPTensor(np.ones(2), [np.ones((3, 3))]), ShapeError, "factor 0"),
    ("tucker_ctor", lambda x: D.TuckerTensor(np.ones((2, 3)), [np.ones((4, 2)), np.ones((4, 2))]), ShapeError, "factor 1"),
    ("tucker_ctor_count", lambda x: D.TuckerTensor(np.ones((2, 3)), [np.ones((4, 2))]), ShapeError, "factors"),
    ("rel_error_shape", lambda x: D.tensor_train(x).rel_error(x[:2]), ShapeError, "shape"),
]


@pytest.mark.parametrize("name,call,exc,pattern", BAD, ids=[b[0] for b in BAD])
def test_bad_input(rng, name, call, exc, pattern):
    x = rng.standard_normal((4, 5, 6))
    with pytest.raises(exc, match=pattern) as info:
        call(x)
    assert isinstance(info.value, TNError)


def test_exported_from_package():
    assert tnswift.decompose is D
    assert "decompose" in tnswift.__all__
    for name in D.__all__:
        assert hasattr(D, name)
