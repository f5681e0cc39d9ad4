"""TTFeedForward and MultiLinearAttention against NumPy float64 references: the feed-forward
block with W1 and W2 rebuilt from the TT cores by np.einsum (forward, dx, biases analytically,
every core entry by central differences of that reference); multi-linear attention by the
loop-free einsum of its definition, T[s,i,j,k] = sum_r gbar[r] Qh[s,i,r] Kh[s,j,r] Vh[s,k,r],
then the output map (forward and every gradient analytically, with and without softmax
cores, cross- and self-attention); float32 within 1e-4; the argument errors and the thread
rule."""

import threading

import numpy as np
import pytest

import tnswift
from tnswift import nn
from tnswift import ArgumentError, DTypeError, ShapeError

LETTERS = "abcdefghij"
ROWS = "ABCDEFGHIJ"
COLS = "KLMNOPQRST"


def tt_dense(cores):
    """The TT-matrix (prod rows, prod cols) of cores (r_{k-1}, m_k, n_k, r_k)."""
    d = len(cores)
    terms = [LETTERS[k] + ROWS[k] + COLS[k] + LETTERS[k + 1] for k in range(d)]
    w = np.einsum(",".join(terms) + "->" + ROWS[:d] + COLS[:d], *[c.astype(np.float64) for c in cores])
    return w.reshape(int(np.prod([c.shape[1] for c in cores])), -1)


def gelu(v):
    from math import erf
    return 0.5 * v * (1 + np.vectorize(erf)(v / np.sqrt(2)))


def gelu_grad(v):
    from math import erf
    return 0.5 * (1 + np.vectorize(erf)(v / np.sqrt(2))) + v * np.exp(-v * v / 2) / np.sqrt(2 * np.pi)


def ff_parts(layer, params=None):
    p = params if params is not None else {k: v.astype(np.float64) for k, v in layer.parameters().items()}
    d = len(layer.model_modes)
    w1 = tt_dense([p[f"ff1.core_{k}"] for k in range(d)])
    w2 = tt_dense([p[f"ff2.core_{k}"] for k in range(d)])
    b1 = p.get("ff1.bias", np.zeros(w1.shape[1]))
    b2 = p.get("ff2.bias", np.zeros(w2.shape[1]))
    return w1, b1, w2, b2


def ff_reference(layer, x, params=None):
    w1, b1, w2, b2 = ff_parts(layer, params)
    h = x @ w1 + b1
    a = np.maximum(h, 0) if layer.activation == "relu" else gelu(h)
    return a @ w2 + b2


@pytest.fixture
def rng():
    return np.random.default_rng(11)


def randomize(layer, rng):
    for v in layer.parameters().values():
        v[...] = rng.uniform(-1, 1, v.shape)


# ----------------------------------------------------------------------------- TTFeedForward


@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_ff_forward_and_gradients_float64(activation, rng):
    layer = nn.TTFeedForward((2, 3, 2), (3, 2, 4), rank=[2, 3], activation=activation, dtype=np.float64, seed=5)
    assert (layer.d_model, layer.d_ff, layer.ranks) == (12, 24, (1, 2, 3, 1))
    assert list(layer.parameters()) == ["ff1.core_0", "ff1.core_1", "ff1.core_2", "ff1.bias",
                                        "ff2.core_0", "ff2.core_1", "ff2.core_2", "ff2.bias"]
    randomize(layer, rng)
    x = rng.standard_normal((2, 3, 12))
    y = layer(x)
    assert y.shape == x.shape and y.dtype == np.float64
    np.testing.assert_allclose(y, ff_reference(layer, x), rtol=1e-12, atol=1e-12)

    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    w1, b1, w2, b2 = ff_parts(layer)
    h = x.reshape(-1, 12) @ w1 + b1
    a = np.maximum(h, 0) if activation == "relu" else gelu(h)
    da = dy.reshape(-1, 12) @ w2.T
    dh = da * ((h > 0) if activation == "relu" else gelu_grad(h))
    g = layer.grads()
    np.testing.assert_allclose(g["ff2.bias"], dy.reshape(-1, 12).sum(0), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(g["ff1.bias"], dh.sum(0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dx, (dh @ w1.T).reshape(x.shape), rtol=1e-10, atol=1e-12)
    # every core entry by central differences of the reference
    base = {k: v.copy() for k, v in layer.parameters().items()}
    eps = 1e-6
    for name in [n for n in base if ".core_" in n]:
        fd = np.empty_like(base[name])
        for idx in np.ndindex(fd.shape):
            p = {k: v.copy() for k, v in base.items()}
            p[name][idx] += eps
            up = np.sum(ff_reference(layer, x, p) * dy)
            p[name][idx] -= 2 * eps
            down = np.sum(ff_reference(layer, x, p) * dy)
            fd[idx] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g[name], fd, rtol=1e-5, atol=1e-6, err_msg=name)
    # input_grad=False: parameter gradients only
    layer.zero_grad()
    assert layer.backward(dy, input_grad=False) is None
    np.testing.assert_allclose(layer.grads()["ff2.bias"], dy.reshape(-1, 12).sum(0), rtol=1e-12)


def test_ff_int_sizes_float32_and_repr(rng):
    layer = nn.TTFeedForward(64, 256, rank=4, activation="gelu", bias=False, seed=1)
    assert layer.dtype == np.float32 and layer.model_modes == (4, 4, 4) and np.prod(layer.hidden_modes) == 256
    assert "ff1.bias" not in layer.parameters()
    assert layer.n_params == sum(v.size for v in layer.parameters().values())
    assert layer.compression == pytest.approx(2 * 64 * 256 / layer.n_params)
    r = repr(layer)
    assert r.startswith("TTFeedForward(") and "n_params" in r and "compression" in r
    x = rng.standard_normal((5, 64)).astype(np.float32)
    y = layer(x)
    assert y.dtype == np.float32
    ref = ff_reference(layer, x.astype(np.float64))
    assert np.max(np.abs(y - ref)) <= 1e-4 * max(1.0, np.max(np.abs(ref)))
    dx = layer.backward(np.ones_like(y))
    assert dx.dtype == np.float32 and dx.shape == x.shape
    # parameters are the layer's storage
    layer.parameters()["ff2.core_0"][...] = 0
    assert np.all(layer(x) == 0)


def test_ff_strided_input(rng):
    layer = nn.TTFeedForward((2, 3), (4, 2), rank=2, dtype=np.float64)
    big = rng.standard_normal((8, 12))
    x = big[::2, ::2]
    np.testing.assert_allclose(layer(x), ff_reference(layer, np.ascontiguousarray(x)), rtol=1e-12, atol=1e-13)


def test_ff_errors(rng):
    with pytest.raises(ShapeError, match="hidden modes"):
        nn.TTFeedForward((2, 3), (2, 3, 4), rank=2)
    with pytest.raises(ArgumentError, match="activation"):
        nn.TTFeedForward(8, 16, rank=2, activation="swish")
    with pytest.raises(ShapeError):
        nn.TTFeedForward((2, 2, 2), (2, 2, 2), rank=[2, 2, 2])
    with pytest.raises(ArgumentError):
        nn.TTFeedForward(8, 16, rank=0)
    with pytest.raises(DTypeError):
        nn.TTFeedForward(8, 16, rank=2, dtype=np.int32)
    layer = nn.TTFeedForward(8, 16, rank=2, order=2, dtype=np.float64)
    with pytest.raises(ArgumentError, match="forward"):
        layer.backward(np.ones((2, 8)))
    with pytest.raises(ShapeError, match=r"\(\.\.\., 8\)"):
        layer(np.ones((2, 7)))
    with pytest.raises(DTypeError, match="float32"):
        layer(np.ones((2, 8), dtype=np.float32))
    layer(np.ones((2, 8)))
    with pytest.raises(ShapeError, match="dy"):
        layer.backward(np.ones((3, 8)))
    with pytest.raises(ArgumentError, match="NaN"):
        layer.backward(np.full((2, 8), np.nan))


# ----------------------------------------------------------------------- MultiLinearAttention


def att_reference(layer, q, k, v, params=None):
    """Y and the intermediates, by the definition (einsum over the n x N x N tensor)."""
    p = params if params is not None else {n: a.astype(np.float64) for n, a in layer.parameters().items()}
    zero = np.zeros(layer.rank)
    qh = q @ p["query.weight"] + p.get("query.bias", zero)
    kh = k @ p["key.weight"] + p.get("key.bias", zero)
    vh = v @ p["value.weight"] + p.get("value.bias", zero)
    c = p["cores"]
    if layer.softmax_cores:
        e = np.exp(c - c.max(axis=1, keepdims=True))
        g = e / e.sum(axis=1, keepdims=True)
    else:
        g = c
    gbar = g.mean(axis=0)
    t = np.einsum("r,sir,sjr,skr->sijk", gbar, qh, kh, vh)
    n_keys = layer.key_length
    y = t.reshape(t.shape[0], t.shape[1], n_keys * n_keys) @ p["output.weight"] + p.get("output.bias", 0)
    return y, dict(qh=qh, kh=kh, vh=vh, g=g, gbar=gbar, t=t)


def att_gradients(layer, q, k, v, dy):
    p = {n: a.astype(np.float64) for n, a in layer.parameters().items()}
    _, m = att_reference(layer, q, k, v, p)
    n_keys = layer.key_length
    wo = p["output.weight"].reshape(n_keys, n_keys, -1)
    g = {}
    g["output.weight"] = np.einsum("sijk,sio->jko", m["t"], dy).reshape(n_keys * n_keys, -1)
    g["output.bias"] = dy.sum(axis=(0, 1))
    dt = np.einsum("sio,jko->sijk", dy, wo)
    dqh = np.einsum("sijk,r,sjr,skr->sir", dt, m["gbar"], m["kh"], m["vh"])
    dkh = np.einsum("sijk,r,sir,skr->sjr", dt, m["gbar"], m["qh"], m["vh"])
    dvh = np.einsum("sijk,r,sir,sjr->skr", dt, m["gbar"], m["qh"], m["kh"])
    dgbar = np.einsum("sijk,sir,sjr,skr->r", dt, m["qh"], m["kh"], m["vh"])
    dg = np.broadcast_to(dgbar / layer.blocks, m["g"].shape)
    if layer.softmax_cores:
        dg = m["g"] * (dg - np.sum(m["g"] * dg, axis=1, keepdims=True))
    g["cores"] = dg
    inputs = {}
    for name, x, dh in (("query", q, dqh), ("key", k, dkh), ("value", v, dvh)):
        g[f"{name}.weight"] = np.einsum("snd,snr->dr", x, dh)
        g[f"{name}.bias"] = dh.sum(axis=(0, 1))
        inputs[name] = dh @ p[f"{name}.weight"].T
    if not layer.bias:
        g = {n: a for n, a in g.items() if not n.endswith(".bias")}
    return g, (inputs["query"], inputs["key"], inputs["value"])


@pytest.mark.parametrize("softmax_cores", [False, True])
@pytest.mark.parametrize("bias", [True, False])
def test_attention_forward_and_every_gradient_float64(softmax_cores, bias, rng):
    layer = nn.MultiLinearAttention(6, key_length=4, blocks=3, rank=2, bias=bias, softmax_cores=softmax_cores,
                                    dtype=np.float64, seed=2)
    names = ["query.weight", "query.bias", "key.weight", "key.bias", "value.weight", "value.bias", "cores",
             "output.weight", "output.bias"]
    assert list(layer.parameters()) == (names if bias else [n for n in names if not n.endswith("bias")])
    assert layer.parameters()["output.weight"].shape == (16, 6)
    randomize(layer, rng)
    q = rng.standard_normal((2, 5, 6))
    k = rng.standard_normal((2, 4, 6))
    v = rng.standard_normal((2, 4, 6))
    y = layer(q, k, v)
    want, _ = att_reference(layer, q, k, v)
    assert y.shape == (2, 5, 6)
    np.testing.assert_allclose(y, want, rtol=1e-11, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dq, dk, dv = layer.backward(dy)
    g_want, (dq_want, dk_want, dv_want) = att_gradients(layer, q, k, v, dy)
    got = layer.grads()
    assert set(got) == set(g_want)
    for name in got:
        np.testing.assert_allclose(got[name], g_want[name], rtol=1e-10, atol=1e-11, err_msg=name)
    for name, a, b in (("dq", dq, dq_want), ("dk", dk, dk_want), ("dv", dv, dv_want)):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-11, err_msg=name)


def test_attention_core_gradient_by_central_differences(rng):
    layer = nn.MultiLinearAttention(4, key_length=3, blocks=2, rank=3, softmax_cores=True, dtype=np.float64)
    q, k, v = rng.standard_normal((1, 2, 4)), rng.standard_normal((1, 3, 4)), rng.standard_normal((1, 3, 4))
    dy = rng.standard_normal((1, 2, 4))
    layer(q, k, v)
    layer.backward(dy)
    cores = layer.parameters()["cores"]
    fd = np.empty_like(cores)
    for idx in np.ndindex(cores.shape):
        keep = cores[idx]
        cores[idx] = keep + 1e-6
        up = np.sum(layer(q, k, v) * dy)
        cores[idx] = keep - 1e-6
        down = np.sum(layer(q, k, v) * dy)
        cores[idx] = keep
        fd[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(layer.grads()["cores"], fd, rtol=1e-6, atol=1e-8)


def test_self_attention(rng):
    layer = nn.MultiLinearAttention(8, key_length=5, blocks=2, rank=3, dtype=np.float64, seed=4)
    x = rng.standard_normal((3, 5, 8))
    y = layer(x, x, x)
    np.testing.assert_allclose(y, att_reference(layer, x, x, x)[0], rtol=1e-11, atol=1e-12)
    dy = rng.standard_normal(y.shape)
    dq, dk, dv = layer.backward(dy)
    dx = dq + dk + dv
    # dL/dx of the self-attention map by central differences in a few entries
    for idx in [(0, 0, 0), (1, 3, 5), (2, 4, 7)]:
        xp, xm = x.copy(), x.copy()
        xp[idx] += 1e-6
        xm[idx] -= 1e-6
        fd = (np.sum(att_reference(layer, xp, xp, xp)[0] * dy) - np.sum(att_reference(layer, xm, xm, xm)[0] * dy)) / 2e-6
        assert dx[idx] == pytest.approx(fd, rel=1e-6, abs=1e-8)
    assert layer.backward(dy, input_grad=False) is None


def test_attention_float32_and_repr(rng):
    layer = nn.MultiLinearAttention(16, key_length=6, blocks=4, rank=5, seed=9)
    assert layer.dtype == np.float32
    assert layer.n_params == sum(a.size for a in layer.parameters().values())
    assert repr(layer).startswith("MultiLinearAttention(d_model=16, key_length=6, blocks=4, rank=5")
    q = rng.standard_normal((2, 3, 16)).astype(np.float32)
    kv = rng.standard_normal((2, 6, 16)).astype(np.float32)
    y = layer(q, kv, kv)
    ref = att_reference(layer, q.astype(np.float64), kv.astype(np.float64), kv.astype(np.float64))[0]
    assert y.dtype == np.float32
    assert np.max(np.abs(y - ref)) <= 1e-4 * max(1.0, np.max(np.abs(ref)))
    dy = rng.standard_normal(y.shape).astype(np.float32)
    dq, dk, dv = layer.backward(dy)
    g_want, (dq_want, _, dv_want) = att_gradients(layer, q.astype(np.float64), kv.astype(np.float64),
                                                  kv.astype(np.float64), dy.astype(np.float64))
    for name, a in layer.grads().items():
        assert np.max(np.abs(a - g_want[name])) <= 1e-4 * max(1.0, np.max(np.abs(g_want[name]))), name
    assert np.max(np.abs(dq - dq_want)) <= 1e-4 * max(1.0, np.max(np.abs(dq_want)))


def test_attention_errors(rng):
    for bad in (dict(blocks=0), dict(rank=-1), dict(key_length=0)):
        args = dict(d_model=4, key_length=3, blocks=2, rank=2)
        args.update(bad)
        with pytest.raises(ArgumentError, match="at least 1"):
            nn.MultiLinearAttention(**args)
    with pytest.raises(ArgumentError, match="bias"):
        nn.MultiLinearAttention(4, 3, 2, 2, bias="yes")
    with pytest.raises(tnswift.TNError):
        nn.MultiLinearAttention(1 << 20, 1 << 20, 1, 1)
    layer = nn.MultiLinearAttention(4, key_length=3, blocks=2, rank=2, dtype=np.float64)
    q, kv = np.ones((2, 5, 4)), np.ones((2, 3, 4))
    with pytest.raises(ArgumentError, match="forward"):
        layer.backward(np.ones((2, 5, 4)))
    with pytest.raises(ShapeError, match="key length N = 3"):
        layer(q, np.ones((2, 4, 4)), kv)
    with pytest.raises(ShapeError, match="v has shape"):
        layer(q, kv, np.ones((1, 3, 4)))
    with pytest.raises(ShapeError, match="q has shape"):
        layer(np.ones((5, 4)), kv, kv)
    with pytest.raises(DTypeError, match="float64"):
        layer(q.astype(np.float32), kv, kv)
    layer(q, kv, kv)
    with pytest.raises(ShapeError, match="dy"):
        layer.backward(np.ones((2, 4, 4)))
    with pytest.raises(ArgumentError, match="NaN"):
        layer.backward(np.full((2, 5, 4), np.nan))


def test_backward_must_follow_its_forward_on_the_same_thread(rng):
    ff = nn.TTFeedForward(8, 16, rank=2, order=2, dtype=np.float64)
    att = nn.MultiLinearAttention(4, key_length=3, blocks=2, rank=2, dtype=np.float64)
    x = rng.standard_normal((3, 3, 4))
    cases = [(ff, lambda: ff(rng.standard_normal((2, 8)))), (att, lambda: att(x, x, x))]
    for layer, run in cases:
        y = run()
        result = []

        def other():
            try:
                layer.backward(np.ones_like(y))
                result.append("no error")
            except ArgumentError as e:
                result.append("another thread" if "another thread" in str(e) else repr(e))

        t = threading.Thread(target=other)
        t.start()
        t.join()
        assert result == ["another thread"], result
        assert layer.backward(np.ones_like(y)) is not None
