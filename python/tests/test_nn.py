"""tnswift.nn: every layer kind against an independent NumPy float64 reconstruction of W from
its parameters (forward, dx, every parameter gradient, bias), the seed CP layer against the
tensorly-torch / PyTorch fixture, from_dense, parameter views, errors and threads."""

import os
import threading

import numpy as np
import pytest

import tnswift
from tnswift import ArgumentError, DTypeError, ShapeError, SubscriptError, nn

HERE = os.path.dirname(os.path.abspath(__file__))
TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
DTYPES = [np.float32, np.float64]

IN, OUT, BOND = "abcdef", "ghijkl", "ABCDEFGH"


def rel(got, want):
    """max |got - want| / max |want|: the error relative to the result's scale."""
    want = np.asarray(want, dtype=np.float64)
    scale = max(np.abs(want).max(initial=0.0), 1e-300)
    return float(np.abs(np.asarray(got, dtype=np.float64) - want).max(initial=0.0) / scale)


# ---------------------------------------------------------------------------- reference

def network(layer):
    """(labels of each parameter but the bias, labels of W as the tensor (in..., out...)),
    written from the documented layouts, not from the library."""
    d_in, d_out = len(layer.in_modes), len(layer.out_modes)
    ins, outs = IN[:d_in], OUT[:d_out]
    if isinstance(layer, nn.Linear):
        return ["ag"], "ag"
    if isinstance(layer, nn.TTLinear):
        return [BOND[k] + ins[k] + outs[k] + BOND[k + 1] for k in range(d_in)], ins + outs
    if isinstance(layer, nn.CPLinear):
        return ["R"] + [m + "R" for m in ins + outs], ins + outs
    if isinstance(layer, nn.TuckerLinear):
        modes = ins + outs
        return [BOND[:len(modes)]] + [m + BOND[k] for k, m in enumerate(modes)], ins + outs
    # EinsumLayer: the equation minus its input; W's labels are the input's and the
    # output's, each without the batch.
    lhs, rhs = layer.equation.replace(" ", "").split("->")
    operands = lhs.split(",")
    return operands[1:], operands[0][1:] + rhs[1:]


def reference_weight(layer):
    """W (in_features, out_features) in float64 by np.einsum over the parameter arrays."""
    labels, out = network(layer)
    arrays = [a.astype(np.float64) for n, a in layer.parameters().items() if n != "bias"]
    w = np.einsum(",".join(labels) + "->" + out, *arrays, optimize="greedy")
    return w.reshape(layer.in_features, layer.out_features), labels, out, arrays


def check_against_numpy(layer, rng, batch=5, forwards=1):
    """forwards=2 runs the forward twice on unchanged parameters before backward: the second
    call may use the kept rebuilt weight, and backward then goes through it or the factors."""
    dt = layer.dtype
    tol = TOL[dt]
    params = layer.parameters()
    for name, value in params.items():  # fresh values, so the bias takes part too
        value[...] = rng.standard_normal(value.shape).astype(dt)
    w, labels, out, arrays = reference_weight(layer)
    b = params["bias"].astype(np.float64) if layer.bias else 0.0

    x = rng.standard_normal((batch, layer.in_features)).astype(dt)
    for _ in range(forwards):
        y = layer(x)
    assert y.dtype == dt and y.shape == (batch, layer.out_features)
    assert rel(y, x.astype(np.float64) @ w + b) <= tol

    dy = rng.standard_normal(y.shape).astype(dt)
    dx = layer.backward(dy)
    x64, dy64 = x.astype(np.float64), dy.astype(np.float64)
    assert dx.shape == x.shape and rel(dx, dy64 @ w.T) <= tol

    # d sum(W * G) / d P_i with G = x^T dy: the same network with P_i left out.
    g = (x64.T @ dy64).reshape(layer.in_modes + layer.out_modes)
    grads = layer.grads()
    for i, name in enumerate(n for n in params if n != "bias"):
        others = labels[:i] + labels[i + 1:]
        # Labels only this parameter carries (the TT end bonds, of size 1) are added back.
        kept = "".join(c for c in labels[i] if c in out + "".join(others))
        want = np.einsum(",".join([out] + others) + "->" + kept, g, *arrays[:i], *arrays[i + 1:],
                         optimize="greedy").reshape(arrays[i].shape)
        assert rel(grads[name], want) <= tol, name
    if layer.bias:
        assert rel(grads["bias"], dy64.sum(0)) <= tol
    assert rel(layer.to_dense(), w) <= tol


# ---------------------------------------------------------------------------- every kind

LAYERS = {
    # orders (number of modes of W) 2 to 6, odd sizes: primes and modes of size 1
    "linear 7x13": lambda dt: nn.Linear(7, 13, dtype=dt, seed=1),
    "linear 1x5 no bias": lambda dt: nn.Linear(1, 5, bias=False, dtype=dt),
    "tt order 2": lambda dt: nn.TTLinear((7,), (5,), rank=3, dtype=dt),
    "tt order 4": lambda dt: nn.TTLinear((3, 5), (7, 1), rank=3, dtype=dt),
    "tt order 6": lambda dt: nn.TTLinear((2, 1, 3), (3, 2, 5), rank=[2, 3], dtype=dt),
    "tt order 8 from ints": lambda dt: nn.TTLinear(24, 30, rank=2, order=4, dtype=dt),
    "cp order 2": lambda dt: nn.CPLinear((11,), (3,), rank=4, dtype=dt),
    "cp order 3": lambda dt: nn.CPLinear((3, 1), (5,), rank=2, dtype=dt),
    "cp order 4": lambda dt: nn.CPLinear((5,), (1, 3, 2), rank=3, dtype=dt),
    "cp order 5": lambda dt: nn.CPLinear((3, 2), (1, 5, 2), rank=5, bias=False, dtype=dt),
    "cp order 6": lambda dt: nn.CPLinear((2, 3, 1), (2, 1, 3), rank=3, dtype=dt),
    "tucker order 2": lambda dt: nn.TuckerLinear((5,), (7,), rank=3, dtype=dt),
    "tucker order 3": lambda dt: nn.TuckerLinear((3,), (2, 5), rank=[2, 2, 3], dtype=dt),
    "tucker order 4": lambda dt: nn.TuckerLinear((3, 1), (5, 2), rank=[2, 1, 3, 2], dtype=dt),
    "tucker order 5": lambda dt: nn.TuckerLinear((2, 1, 3), (5, 1), rank=2, bias=False, dtype=dt),
    "tucker order 6": lambda dt: nn.TuckerLinear((2, 3, 1), (3, 1, 2), rank=2, dtype=dt),
    "einsum tn": lambda dt: nn.EinsumLayer("nij,aik,bjk->nab", [(3, 5, 2), (4, 7, 2)], dtype=dt),
    "einsum chain": lambda dt: nn.EinsumLayer("nab,aic,bcj->nij", [(2, 3, 4), (5, 4, 1)], dtype=dt),
    "einsum 3 params": lambda dt: nn.EinsumLayer("zab,apq,bqr,rs->zps", [(3, 2, 4), (5, 4, 2), (2, 7)],
                                                 bias=False, dtype=dt),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("make", list(LAYERS.values()), ids=list(LAYERS))
def test_layer_matches_numpy(make, dtype, rng):
    check_against_numpy(make(dtype), rng)


@pytest.mark.parametrize("batch", [1, 5, 32])
@pytest.mark.parametrize("make", [LAYERS["cp order 6"], LAYERS["tt order 6"], LAYERS["tucker order 4"],
                                  lambda dt: nn.CPLinear((4, 4, 16), (4, 4, 8), rank=100, bias=False, dtype=dt)],
                         ids=["cp", "tt", "tucker", "w2"])
def test_backward_after_a_repeated_forward(make, batch, rng):
    check_against_numpy(make(np.float64), rng, batch=batch, forwards=2)


def test_seed_tensor_network_layer(rng):
    layer = nn.EinsumLayer("nij,aik,bjk->nab", [(32, 32, 2), (32, 32, 2)], dtype=np.float64)
    assert (layer.in_features, layer.out_features) == (1024, 1024)
    x = rng.standard_normal((4, 1024))
    assert rel(layer(x), x @ layer.to_dense() + layer.parameters()["bias"]) <= 1e-10
    check_against_numpy(layer, rng, batch=3)


def test_seed_cp_linear_fixture():
    f = np.load(os.path.join(HERE, "fixtures", "seed001_cp_linear.npz"))
    layer = nn.CPLinear((4, 4, 16), (4, 4, 8), rank=100, dtype=np.float64, bias=False)
    p = layer.parameters()
    p["weights"][...] = f["weights"]
    for k in range(6):
        p[f"factor_{k}"][...] = f[f"factor_{k}"]
    assert rel(layer.to_dense(), f["weight_matrix"]) <= 1e-10
    assert rel(layer(f["x"]), f["y"]) <= 1e-10
    # A second forward on unchanged parameters runs on the kept weight (the benchmark's W2
    # loop); backward after it takes the cheaper of that weight and the factors.
    assert rel(layer(f["x"]), f["y"]) <= 1e-10
    assert rel(layer.backward(f["dy"]), f["dx"]) <= 1e-10
    grads = layer.grads()
    for k in range(6):
        assert rel(grads[f"factor_{k}"], f[f"dfactor_{k}"]) <= 1e-10, k


# ---------------------------------------------------------------------------- input forms

def test_input_forms(rng):
    layer = nn.TTLinear((2, 3, 2), (3, 1, 5), rank=2, dtype=np.float64)
    w = layer.to_dense()
    b = layer.parameters()["bias"]
    x = rng.standard_normal((4, 12))
    y = layer(x)
    # (batch, *in_modes) -> (batch, *out_modes)
    ym = layer(x.reshape(4, 2, 3, 2))
    assert ym.shape == (4, 3, 1, 5) and rel(ym.reshape(4, 15), y) <= 1e-12
    dxm = layer.backward(np.ones((4, 3, 1, 5)))
    assert dxm.shape == (4, 2, 3, 2) and rel(dxm.reshape(4, 12), np.ones((4, 15)) @ w.T) <= 1e-12
    # (..., in_features)
    y3 = layer(x.reshape(2, 2, 12))
    assert y3.shape == (2, 2, 15) and rel(y3.reshape(4, 15), y) <= 1e-12
    assert layer.backward(np.ones((2, 2, 15))).shape == (2, 2, 12)
    y1 = layer(x[0])
    assert y1.shape == (15,) and rel(y1, y[0]) <= 1e-12
    # strided input (a transposed array) is read in place
    xt = np.asfortranarray(x)
    assert rel(layer(xt), x @ w + b) <= 1e-12
    assert rel(layer(x[:, ::-1][:, ::-1]), y) <= 1e-12
    # lists are converted
    assert rel(layer(x.tolist()), y) <= 1e-12


def test_attributes_and_report():
    layer = nn.TTLinear(64, 32, rank=4, seed=3)
    assert layer.in_modes == (4, 4, 4) and layer.out_modes == (4, 4, 2)
    assert layer.ranks == (1, 4, 4, 1)
    assert layer.dtype == np.float32
    assert layer.n_params == sum(v.size for v in layer.parameters().values())
    assert layer.compression == pytest.approx((64 * 32 + 32) / layer.n_params)
    r = layer.plan_report(16)
    assert r.flops > 0 and r.dense_flops == 2 * 16 * 64 * 32
    assert isinstance(r.reconstructs_weight, bool)
    assert "batch 16" in str(r) and str(r) == r.text
    assert "TTLinear" in repr(layer) and "ranks=(1, 4, 4, 1)" in repr(layer)
    cp = nn.CPLinear(30, 20, rank=6, order=2)
    assert cp.rank == 6 and cp.ranks == (6,) and cp.in_modes == (6, 5)
    assert np.all(cp.parameters()["weights"] == 1)
    tk = nn.TuckerLinear((3, 4), (5,), rank=4)
    assert tk.ranks == (3, 4, 4)
    lin = nn.Linear(3, 2)
    assert "Linear(in_features=3, out_features=2" in repr(lin)
    assert list(lin.parameters()) == ["weight", "bias"]
    # the same seed gives the same parameters, another one differs
    a, b, c = (nn.TTLinear(24, 24, rank=2, seed=s)._handle for s in (5, 5, 6))
    pa, pb, pc = (np.asarray(h.parameters()[0][1]) for h in (a, b, c))
    assert np.array_equal(pa, pb) and not np.array_equal(pa, pc)


# ---------------------------------------------------------------------------- from_dense

def _tt_weight(rng, ins, outs, rank):
    ranks = [1] + [rank] * (len(ins) - 1) + [1]
    cores = [rng.standard_normal((ranks[k], ins[k], outs[k], ranks[k + 1])) for k in range(len(ins))]
    d = len(ins)
    eq = ",".join(BOND[k] + IN[k] + OUT[k] + BOND[k + 1] for k in range(d)) + "->" + IN[:d] + OUT[:d]
    return np.einsum(eq, *cores).reshape(int(np.prod(ins)), int(np.prod(outs)))


def test_from_dense_exact_low_rank(rng):
    x = rng.standard_normal((6, 24))
    bias = rng.standard_normal(30)
    # TT of rank 2
    w = _tt_weight(rng, (2, 3, 4), (5, 3, 2), 2)
    tt = nn.TTLinear.from_dense(w, bias, in_modes=(2, 3, 4), out_modes=(5, 3, 2), rank=2)
    assert tt.ranks == (1, 2, 2, 1) and tt.dtype == np.float64
    assert rel(tt(x), x @ w + bias) <= 1e-10
    # CP of rank 2
    a = [rng.standard_normal((m, 2)) for m in (4, 6, 5, 6)]
    w = np.einsum("ar,br,cr,dr->abcd", *a).reshape(24, 30)
    # ALS converges linearly: run every iteration (tol=0) rather than stop on the error's
    # change, which the error estimate cannot resolve below ~1e-8.
    cp = nn.CPLinear.from_dense(w, bias, in_modes=(4, 6), out_modes=(5, 6), rank=2, n_iter_max=2000, tol=0)
    assert cp.rank == 2
    assert rel(cp(x), x @ w + bias) <= 1e-10
    # Tucker of multilinear rank 2
    core = rng.standard_normal((2, 2, 2, 2))
    f = [rng.standard_normal((m, 2)) for m in (4, 6, 5, 6)]
    w = np.einsum("ABCD,aA,bB,cC,dD->abcd", core, *f).reshape(24, 30)
    tk = nn.TuckerLinear.from_dense(w, bias, in_modes=(4, 6), out_modes=(5, 6), rank=2)
    assert tk.ranks == (2, 2, 2, 2)
    assert rel(tk(x), x @ w + bias) <= 1e-10
    # Linear copies
    lin = nn.Linear.from_dense(w.astype(np.float32), bias.astype(np.float32))
    assert lin.dtype == np.float32 and rel(lin(x.astype(np.float32)), x @ w + bias) <= 1e-5


def test_from_dense_eps_and_budget(rng):
    w = rng.standard_normal((24, 30))
    norm = np.linalg.norm(w)
    for cls in (nn.TTLinear, nn.TuckerLinear):
        layer = cls.from_dense(w, in_modes=(4, 6), out_modes=(5, 6), eps=0.4)
        assert np.linalg.norm(layer.to_dense() - w) <= 0.4 * norm * (1 + 1e-9), cls.__name__
    rank1 = np.einsum("a,b,c,d->abcd", *(rng.standard_normal(m) for m in (4, 6, 5, 6))).reshape(24, 30)
    cp = nn.CPLinear.from_dense(rank1, in_modes=(4, 6), out_modes=(5, 6), eps=1e-6)
    assert cp.rank == 1 and np.linalg.norm(cp.to_dense() - rank1) <= 1e-6 * np.linalg.norm(rank1)
    for cls in (nn.TTLinear, nn.CPLinear, nn.TuckerLinear):
        layer = cls.from_dense(w, in_modes=(4, 6), out_modes=(5, 6), budget=150)
        assert not layer.bias and layer.n_params <= 150, cls.__name__
    w32 = w.astype(np.float32)
    layer = nn.TTLinear.from_dense(w32, budget=400)  # default modes: 3 balanced each
    assert layer.dtype == np.float32 and layer.n_params <= 400 and layer.in_modes == (4, 3, 2)


# ---------------------------------------------------------------------------- views

def test_parameter_views_are_the_storage(rng):
    layer = nn.CPLinear((3, 4), (5,), rank=3, dtype=np.float64)
    x = rng.standard_normal((2, 12))
    y0 = layer(x)
    p = layer.parameters()
    p["bias"][:] = 1.5
    assert rel(layer(x), y0 + 1.5) <= 1e-12
    p["factor_2"] *= 2  # in place: an optimizer step
    assert rel(layer(x), 2 * y0 + 1.5) <= 1e-12
    assert layer.parameters()["factor_2"] is p["factor_2"] or np.shares_memory(layer.parameters()["factor_2"], p["factor_2"])
    layer.backward(np.ones((2, 5)))
    g = layer.grads()["factor_0"]
    before = g.copy()
    assert np.abs(before).max() > 0
    layer.zero_grad()
    assert np.all(g == 0)
    # the views keep the storage alive after the layer is gone
    w = p["factor_1"]
    expected = w.copy()
    del layer, p, g
    import gc
    gc.collect()
    junk = [np.ones(1000) for _ in range(100)]
    assert np.array_equal(w, expected)
    w[...] = 0  # still writable memory
    del junk


# ---------------------------------------------------------------------------- errors

def test_errors(rng):
    with pytest.raises(ShapeError, match="as many input as output modes"):
        nn.TTLinear((4, 4), (4, 4, 2), rank=2)
    with pytest.raises(ArgumentError, match="rank"):
        nn.TTLinear(16, 16, rank=0)
    with pytest.raises(ArgumentError, match="rank"):
        nn.CPLinear(16, 16, rank=-1)
    with pytest.raises(ArgumentError):
        nn.TuckerLinear(16, 16, rank=[2, 0, 1, 1, 1, 1])
    with pytest.raises(ShapeError):
        nn.TTLinear((4, 0), (4, 4), rank=2)
    with pytest.raises(DTypeError, match="float32 or float64"):
        nn.Linear(3, 4, dtype=np.int32)
    with pytest.raises(SubscriptError):
        nn.EinsumLayer("nij,aik,bjk->", [(2, 2, 2), (2, 2, 2)])
    with pytest.raises(ShapeError):
        nn.EinsumLayer("nij,aik,bjk->nab", [(2, 2, 2), (2, 2, 3)])

    layer = nn.TTLinear((2, 3), (4, 1), rank=2)
    with pytest.raises(ArgumentError, match="forward"):
        layer.backward(np.ones((1, 4), np.float32))
    with pytest.raises(ShapeError, match=r"\(batch, 6\)"):
        layer(np.ones((3, 7), np.float32))
    with pytest.raises(DTypeError, match="float64 but the layer is float32"):
        layer(np.ones((3, 6)))
    layer(np.ones((3, 6), np.float32))
    with pytest.raises(ShapeError, match="dy has shape"):
        layer.backward(np.ones((2, 4), np.float32))
    bad = np.ones((3, 4), np.float32)
    bad[1, 2] = np.nan
    with pytest.raises(ArgumentError, match="NaN"):
        layer.backward(bad)
    with pytest.raises(ArgumentError):
        layer.plan_report(-1)

    w = rng.standard_normal((6, 4))
    with pytest.raises(ShapeError, match="multiply"):
        nn.TTLinear.from_dense(w, in_modes=(2, 2), out_modes=(2, 2), rank=1)
    with pytest.raises(ArgumentError, match="exactly one"):
        nn.TTLinear.from_dense(w, in_modes=(2, 3), out_modes=(2, 2))
    with pytest.raises(ArgumentError, match="exactly one"):
        nn.CPLinear.from_dense(w, in_modes=(2, 3), out_modes=(2, 2), rank=1, eps=0.1)
    with pytest.raises(ArgumentError, match="rank"):
        nn.TuckerLinear.from_dense(w, in_modes=(2, 3), out_modes=(2, 2), rank=0)
    with pytest.raises(DTypeError):
        nn.TTLinear.from_dense(w.astype(np.int64), rank=1)
    with pytest.raises(DTypeError):
        nn.TTLinear.from_dense(w, np.ones(4, np.float32), in_modes=(2, 3), out_modes=(2, 2), rank=1)
    with pytest.raises(ShapeError):
        nn.TTLinear.from_dense(w, np.ones(5), in_modes=(2, 3), out_modes=(2, 2), rank=1)
    with pytest.raises(ArgumentError):
        nn.TTLinear.from_dense(w, in_modes=(2, 3), out_modes=(2, 2), budget=1)
    # a Layer made without a handle fails cleanly
    with pytest.raises(tnswift.TNError):
        tnswift._ext.Layer().info()


# ---------------------------------------------------------------------------- threads

def test_threads_match_single_threaded(rng):
    shared = nn.TTLinear((4, 4, 4), (4, 4, 2), rank=3, dtype=np.float64, seed=1)
    own = [nn.CPLinear((4, 8), (8,), rank=4, seed=10 + t) if t % 2 else
           nn.TuckerLinear((8, 4), (4, 2), rank=3, dtype=np.float64, seed=10 + t) for t in range(8)]
    xs = [rng.standard_normal((16 + t, 64)) for t in range(8)]
    xo = [rng.standard_normal((9, 32)).astype(own[t].dtype) for t in range(8)]
    # Settled results: a layer's first call on new parameters runs the factorized path and a
    # repeated call may switch to the rebuilt weight (equal up to rounding), so the reference
    # is a repeated call's result.
    want = [(shared(x), shared(x))[1] for x in xs]
    want_own = [(own[t](xo[t]), own[t](xo[t]))[1] for t in range(8)]
    errors = []
    start = threading.Barrier(8)

    def work(t):
        try:
            start.wait()
            for _ in range(20):
                if not np.array_equal(shared(xs[t]), want[t]):
                    errors.append(f"shared layer, thread {t}")
                if not np.array_equal(own[t](xo[t]), want_own[t]):
                    errors.append(f"own layer, thread {t}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []


def test_backward_must_follow_its_forward_on_the_same_thread(rng):
    """Two threads sharing one layer cannot silently take gradients at each other's input."""
    for layer in (nn.TTLinear((4, 4), (2, 4), rank=2, dtype=np.float64), nn.ReLU(),
                  nn.CPConv2d(2, 4, 3, rank=2, dtype=np.float64)):
        x = rng.standard_normal((2, 2, 5, 5)) if isinstance(layer, nn.CPConv2d) else rng.standard_normal((3, 16))
        y = layer(x)
        result = []
        t = threading.Thread(target=lambda: result.append(_raises(lambda: layer.backward(np.ones_like(y)))))
        t.start()
        t.join()
        assert result == ["ArgumentError: another thread"], result
        assert layer.backward(np.ones_like(y)).shape == x.shape   # the forward's own thread


def _raises(call):
    try:
        call()
    except ArgumentError as e:
        return "ArgumentError: another thread" if "another thread" in str(e) else repr(e)
    return "no error"
