"""tnswift.nn.TCL and tnswift.nn.TRL (CP, Tucker and TT-tensor weights) against NumPy float64
references built here from the documented parameter layouts: the TCL output by successive
mode products, W by np.einsum over the factors, dx = dy W^T, every parameter gradient by the
network with that parameter left out, the bias gradient; odd shapes, errors, from_dense and
model files."""

import numpy as np
import pytest

from tnswift import ArgumentError, DTypeError, ShapeError, nn

TOL = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
DTYPES = [np.float32, np.float64]
IN, OUT, BOND = "abcdefghijkl", "mnopqrstuvwx", "ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def rel(got, want):
    want = np.asarray(want, dtype=np.float64)
    scale = max(np.abs(want).max(initial=0.0), 1e-300)
    return float(np.abs(np.asarray(got, dtype=np.float64) - want).max(initial=0.0) / scale)


def network(layer):
    """(einsum labels of each parameter but the bias, labels of W as (in modes..., out
    modes...)) from the layouts the docstrings give."""
    ins, outs = IN[:len(layer.in_modes)], OUT[:len(layer.out_modes)]
    if isinstance(layer, nn.TCL):  # factor_k (rank_k, in_k)
        return [outs[k] + ins[k] for k in range(len(ins))], ins + outs
    modes = ins + outs
    if isinstance(layer, nn.TTTensorLinear):  # core_k (r_{k-1}, mode_k, r_k)
        return [BOND[k] + m + BOND[k + 1] for k, m in enumerate(modes)], modes
    if isinstance(layer, nn.CPLinear):  # weights (R,), factor_k (mode_k, R)
        return ["Z"] + [m + "Z" for m in modes], modes
    if isinstance(layer, nn.TuckerLinear):  # core (ranks...), factor_k (mode_k, r_k)
        return [BOND[:len(modes)]] + [m + BOND[k] for k, m in enumerate(modes)], modes
    raise AssertionError(type(layer))


def check(layer, rng, batch=4, modes_form=True):
    """Forward, dx, bias and every parameter gradient against NumPy float64."""
    dt = layer.dtype
    tol = TOL[dt]
    params = layer.parameters()
    for value in params.values():  # fresh values (the bias included)
        value[...] = rng.standard_normal(value.shape).astype(dt)
    labels, wl = network(layer)
    arrays = [a.astype(np.float64) for n, a in params.items() if n != "bias"]
    w = np.einsum(",".join(labels) + "->" + wl, *arrays).reshape(layer.in_features, layer.out_features)
    b = params["bias"].astype(np.float64) if layer.bias else 0.0
    assert rel(layer.to_dense(), w) <= tol

    shape = (batch,) + layer.in_modes if modes_form else (batch, layer.in_features)
    x = rng.standard_normal(shape).astype(dt)
    y = layer(x)
    out_shape = (batch,) + layer.out_modes if modes_form and len(layer.in_modes) > 1 else (batch, layer.out_features)
    assert y.dtype == dt and y.shape == out_shape
    x64 = x.astype(np.float64).reshape(batch, -1)
    assert rel(y.reshape(batch, -1), x64 @ w + b) <= tol

    if isinstance(layer, nn.TCL):
        # y = x x_1 U_1 ... x_N U_N, mode by mode (independent of W).
        ref = x.astype(np.float64).reshape((batch,) + layer.in_modes)
        for k, u in enumerate(arrays):
            ref = np.moveaxis(np.tensordot(ref, u, axes=([k + 1], [1])), -1, k + 1)
        assert ref.shape == (batch,) + layer.rank
        assert rel(y.reshape(ref.shape), ref + np.reshape(b, layer.rank) if layer.bias else ref) <= tol

    dy = rng.standard_normal(y.shape).astype(dt)
    dx = layer.backward(dy)
    dy64 = dy.astype(np.float64).reshape(batch, -1)
    assert dx.shape == x.shape and rel(dx.reshape(batch, -1), dy64 @ w.T) <= tol

    g = (x64.T @ dy64).reshape(layer.in_modes + layer.out_modes)
    grads = layer.grads()
    names = [n for n in params if n != "bias"]
    for i, name in enumerate(names):
        others = labels[:i] + labels[i + 1:]
        kept = "".join(c for c in labels[i] if c in wl + "".join(others))
        want = np.einsum(",".join([wl] + others) + "->" + kept, g, *arrays[:i], *arrays[i + 1:])
        assert rel(grads[name], want.reshape(arrays[i].shape)) <= tol, name
    if layer.bias:
        assert rel(grads["bias"], dy64.sum(0)) <= tol
    else:
        assert "bias" not in grads


# ---------------------------------------------------------------------------- TCL

TCLS = {
    "3 modes": ((3, 5, 2), (2, 7, 1), True),
    "one mode": (7, 3, False),
    "size-1 modes": ((1, 4, 1), (2, 1, 3), True),
    "4 modes": ((2, 3, 2, 2), (3, 2, 2, 1), False),
    "primes, expanding": ((5, 3), (11, 13), True),
    "all ones": ((1, 1), (1, 1), True),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(TCLS))
def test_tcl_matches_numpy(case, dtype, rng):
    shape, rank, bias = TCLS[case]
    layer = nn.TCL(shape, rank, bias=bias, dtype=dtype, seed=3)
    ins = shape if isinstance(shape, tuple) else (shape,)
    ranks = rank if isinstance(rank, tuple) else (rank,) * len(ins)
    assert layer.input_shape == ins and layer.rank == ranks and layer.out_modes == ranks
    assert list(layer.parameters()) == [f"factor_{k}" for k in range(len(ins))] + (["bias"] if bias else [])
    for k in range(len(ins)):
        assert layer.parameters()[f"factor_{k}"].shape == (ranks[k], ins[k])
    check(layer, rng)
    check(layer, rng, batch=3, modes_form=False)
    check(layer, rng, batch=300)  # a batch where rebuilding W may win


def test_tcl_defaults_and_init():
    layer = nn.TCL((8, 8, 8), 8, seed=1, dtype=np.float64)
    assert not layer.bias  # as tensorly-torch
    assert layer.n_params == 3 * 64
    w = layer.to_dense()
    assert 0.5 < w.var() * 3 * layer.in_features < 1.5  # the dense init's variance
    assert "TCL(input_shape=(8, 8, 8), rank=(8, 8, 8)" in repr(layer)
    assert isinstance(nn.TCL(4, [2]), nn.TCL)


# ---------------------------------------------------------------------------- TRL

TRLS = {
    "cp": [((3, 5), 7, 3, True), ((1, 2, 3), (2, 1), 2, False), (13, (2, 3), 4, True)],
    "tucker": [((3, 2), (5, 1), [2, 2, 3, 1], True), (13, (2, 3), 2, False), ((2, 1, 3), 5, 3, True)],
    "tt": [((3, 2), 5, [2, 3], True), ((1, 7), (3, 1), [1, 3, 2], False), (11, 13, 3, True),
           (5, (2, 3), [1, 2, 2, 1], False), ((2, 3, 2), (3, 2), [2, 3, 4, 2], True)],
}
CLASSES = {"cp": nn.CPLinear, "tucker": nn.TuckerLinear, "tt": nn.TTTensorLinear}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", [(f, i) for f in TRLS for i in range(len(TRLS[f]))], ids=lambda c: f"{c[0]}{c[1]}")
def test_trl_matches_numpy(case, dtype, rng):
    factorization, i = case
    ins, outs, rank, bias = TRLS[factorization][i]
    layer = nn.TRL(ins, outs, rank, factorization=factorization, bias=bias, dtype=dtype, seed=i)
    assert type(layer) is CLASSES[factorization] and isinstance(layer, nn.TRL)
    assert layer.in_modes == (ins if isinstance(ins, tuple) else (ins,))
    assert layer.out_modes == (outs if isinstance(outs, tuple) else (outs,))
    assert layer.bias == bias and layer.dtype == dtype
    if factorization == "tt":
        modes = layer.in_modes + layer.out_modes
        r = layer.ranks
        assert r[0] == r[-1] == 1 and len(r) == len(modes) + 1
        for k, m in enumerate(modes):
            assert layer.parameters()[f"core_{k}"].shape == (r[k], m, r[k + 1])
    check(layer, rng)
    check(layer, rng, batch=2, modes_form=False)
    check(layer, rng, batch=300)


def test_trl_defaults_and_types():
    assert not nn.TRL((2, 3), 4, 2).bias  # as tensorly-torch
    assert type(nn.TRL((2, 3), 4, 2)) is nn.CPLinear
    assert type(nn.TRL((2, 3), 4, 2, factorization="Tucker")) is nn.TuckerLinear
    tt = nn.TRL((2, 3), (4, 5), 3, factorization="tt", bias=True)
    assert type(tt) is nn.TTTensorLinear and tt.ranks == (1, 3, 3, 3, 1)
    assert isinstance(nn.CPLinear(6, 4, 2), nn.TRL) and not isinstance(nn.TTLinear(6, 4, 2), nn.TRL)
    # TTTensorLinear directly: ints split into balanced modes like the other layers.
    layer = nn.TTTensorLinear(12, 10, rank=2, order=2, dtype=np.float64)
    assert layer.in_modes == (4, 3) and layer.out_modes == (5, 2) and layer.bias
    assert layer.compression > 1
    w = nn.TTTensorLinear((8, 8), (8, 8), 6, seed=2, dtype=np.float64).to_dense()
    assert 0.5 < w.var() * 3 * 64 < 1.5


# ---------------------------------------------------------------------------- errors

BAD = [
    ("tcl rank count", lambda: nn.TCL((2, 3), (2, 2, 2)), ShapeError, "input_shape"),
    ("tcl rank 0", lambda: nn.TCL((2, 3), (2, 0)), ArgumentError, "rank"),
    ("tcl mode 0", lambda: nn.TCL((2, 0), 2), ShapeError, "input_shape"),
    ("tcl empty", lambda: nn.TCL((), 2), ShapeError, "empty"),
    ("tcl str shape", lambda: nn.TCL("23", 2), ArgumentError, "input_shape"),
    ("tcl float rank", lambda: nn.TCL((2, 3), 1.5), ArgumentError, "rank"),
    ("tcl 13 modes", lambda: nn.TCL((1,) * 13, 1), ShapeError, "12"),
    ("tcl dtype", lambda: nn.TCL((2, 3), 2, dtype=np.int32), DTypeError, "float32"),
    ("trl factorization", lambda: nn.TRL((2, 3), 4, 2, factorization="tensor"), ArgumentError, "'cp', 'tucker', 'tt'"),
    ("trl factorization type", lambda: nn.TRL((2, 3), 4, 2, factorization=None), ArgumentError, "factorization"),
    ("trl shape 0", lambda: nn.TRL((2, 0), 4, 2), ShapeError, "input_shape"),
    ("trl output 0", lambda: nn.TRL((2, 3), 0, 2), ShapeError, "output_shape"),
    ("trl cp rank list", lambda: nn.TRL((2, 3), 4, [2, 2]), ArgumentError, "rank"),
    ("trl cp rank 0", lambda: nn.TRL((2, 3), 4, 0), ArgumentError, "rank"),
    ("trl tucker rank count", lambda: nn.TRL((2, 3), 4, [2, 2], factorization="tucker"), ShapeError, "rank"),
    ("trl tucker rank too big", lambda: nn.TRL((2, 3), 4, [3, 2, 2], factorization="tucker"), ValueError, "rank"),
    ("trl tt rank count", lambda: nn.TRL((2, 3), 4, [2, 2, 2], factorization="tt"), ShapeError, "bond"),
    ("trl tt rank ends", lambda: nn.TRL((2, 3), 4, [2, 2, 2, 1], factorization="tt"), ShapeError, "first and last"),
    ("trl tt rank 0", lambda: nn.TRL((2, 3), 4, [2, 0], factorization="tt"), ArgumentError, "rank"),
]


@pytest.mark.parametrize("name,make,exc,text", BAD, ids=[b[0] for b in BAD])
def test_bad_configurations_raise(name, make, exc, text):
    with pytest.raises(exc, match=text):
        make()


def test_bad_inputs_raise():
    tcl = nn.TCL((2, 3), (4, 5))
    with pytest.raises(ShapeError, match="takes"):
        tcl(np.zeros((2, 3, 2), np.float32))
    with pytest.raises(DTypeError):
        tcl(np.zeros((2, 6), np.float64))
    y = tcl(np.ones((2, 2, 3), np.float32))
    with pytest.raises(ShapeError, match="dy"):
        tcl.backward(np.zeros((2, 20), np.float32))
    assert y.shape == (2, 4, 5)


# ---------------------------------------------------------------------------- from_dense

def test_trl_from_dense(rng):
    ins, outs = (3, 4), (5, 2)
    source = nn.TRL(ins, outs, [2, 3, 2], factorization="tt", dtype=np.float64, seed=4)
    w = source.to_dense()
    bias = rng.standard_normal(10)
    exact = nn.TRL.from_dense(w, bias, input_shape=ins, output_shape=outs, factorization="tt", eps=1e-12)
    assert type(exact) is nn.TTTensorLinear and exact.bias
    assert rel(exact.to_dense(), w) <= 1e-10 and rel(exact.parameters()["bias"], bias) == 0
    assert all(a <= b for a, b in zip(exact.ranks, (1, 2, 3, 2, 1)))
    # the weight as the full tensor (in modes..., out modes...) works too
    tensor = nn.TRL.from_dense(w.reshape(ins + outs), input_shape=ins, output_shape=outs, factorization="tt", rank=1)
    assert tensor.ranks == (1, 1, 1, 1, 1) and not tensor.bias
    dense = rng.standard_normal((12, 10))
    assert nn.TTTensorLinear.from_dense(dense, in_modes=ins, out_modes=outs, budget=40).n_params <= 40
    eps = nn.TTTensorLinear.from_dense(dense, in_modes=ins, out_modes=outs, eps=0.3)
    assert np.linalg.norm(eps.to_dense() - dense) <= 0.3 * np.linalg.norm(dense) * (1 + 1e-9)
    # CP and Tucker go to their classes' from_dense.
    cp = nn.TRL.from_dense(w, input_shape=ins, output_shape=outs, rank=3, n_iter_max=50)
    assert type(cp) is nn.CPLinear and cp.rank == 3
    tk = nn.TRL.from_dense(w, input_shape=ins, output_shape=outs, factorization="tucker", eps=1e-8)
    assert type(tk) is nn.TuckerLinear and rel(tk.to_dense(), w) <= 1e-6
    with pytest.raises(ArgumentError, match="exactly one"):
        nn.TRL.from_dense(w, input_shape=ins, output_shape=outs, factorization="tt", rank=2, eps=0.1)
    with pytest.raises(ShapeError, match="multiply"):
        nn.TRL.from_dense(w, input_shape=(3, 5), output_shape=outs, factorization="tt", rank=2)


# ---------------------------------------------------------------------------- files

@pytest.mark.parametrize("dtype", DTYPES)
def test_model_file_round_trip(tmp_path, dtype, rng):
    tcl = nn.TCL((3, 4), (2, 5), bias=True, dtype=dtype, seed=1)
    trl_tt = nn.TRL((2, 5), (3, 3), [2, 3, 2], factorization="tt", bias=True, dtype=dtype, seed=2)
    trl_cp = nn.TRL(9, (2, 2), 3, dtype=dtype, seed=3)
    trl_tk = nn.TRL((2, 2), 5, [2, 1, 3], factorization="tucker", bias=True, dtype=dtype, seed=4)
    for layer in (tcl, trl_tt, trl_tk):
        layer.parameters()["bias"][...] = rng.standard_normal(layer.out_features)
    model = nn.Sequential(tcl, nn.ReLU(), trl_tt, nn.Tanh(), trl_cp, trl_tk)
    x = rng.standard_normal((6, 12)).astype(dtype)
    y = model(x)
    path = tmp_path / "trl.safetensors"
    model.save(path)
    back = nn.load(path)
    assert [type(s) for s in back.stages] == [nn.TCL, nn.ReLU, nn.TTTensorLinear, nn.Tanh, nn.CPLinear, nn.TuckerLinear]
    assert np.array_equal(back(x), y)
    assert back.stages[0].rank == (2, 5) and back.stages[2].ranks == (1, 2, 3, 2, 1)
    for a, b in zip(model.stages, back.stages):
        for name, value in a.parameters().items():
            assert np.array_equal(b.parameters()[name], value)
    # one layer on its own
    tcl.save(tmp_path / "tcl.safetensors")
    alone = nn.TCL.load(tmp_path / "tcl.safetensors")
    assert all(np.array_equal(alone.parameters()[n], v) for n, v in tcl.parameters().items())
    assert rel(alone(x), tcl(x)) <= TOL[np.dtype(dtype)]  # same values; the path may differ
