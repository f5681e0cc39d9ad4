"""TTLSTM and TTGRU against a NumPy float64 reference of PyTorch's equations (W_ih rebuilt
from the TT cores with np.einsum): the forward, and every gradient by backpropagation through
time written out here (the core gradients by the chain rule through that einsum), checked
itself against central differences; then, when torch is importable, equality with
torch.nn.LSTM / torch.nn.GRU given the same weights; and the argument errors."""

import numpy as np
import pytest

import tnswift
from tnswift import nn

LETTERS = "abcdefghij"
ROWS = "ABCDEFGHIJ"
COLS = "KLMNOPQRST"


def core_terms(d):
    return [LETTERS[k] + ROWS[k] + COLS[k] + LETTERS[k + 1] for k in range(d)]


def dense_wih(cores):
    """W_ih (input_size, G * hidden): rows over the input modes, columns over the output modes,
    both in C order."""
    d = len(cores)
    eq = ",".join(core_terms(d)) + "->" + ROWS[:d] + COLS[:d]
    w = np.einsum(eq, *[c.astype(np.float64) for c in cores])
    return w.reshape(int(np.prod([c.shape[1] for c in cores])), -1)


def core_gradients(cores, dw):
    """d sum(W * dW) / d core_k, contracting dW with the other cores (outer bonds of size 1
    kept by slicing them as explicit one-element axes)."""
    d = len(cores)
    terms = core_terms(d)
    g = dw.reshape([c.shape[1] for c in cores] + [c.shape[2] for c in cores])
    # The outer bonds are size 1: a ones vector for each gives einsum a label to produce.
    ends = [np.ones(1), np.ones(1)]
    out = []
    for k in range(d):
        others = [j for j in range(d) if j != k]
        eq = ",".join([terms[j] for j in others] + [ROWS[:d] + COLS[:d], LETTERS[0], LETTERS[d]]) + "->" + terms[k]
        out.append(np.einsum(eq, *[cores[j].astype(np.float64) for j in others], g, *ends))
    return out


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def params64(layer):
    p = {k: v.astype(np.float64) for k, v in layer.parameters().items()}
    cores = [p[f"core_{k}"] for k in range(len(layer.input_modes))]
    return cores, dense_wih(cores), p["bias_ih"], p["weight_hh"], p["bias_hh"]


def reference(gates, x, h0, c0, wih, bih, whh, bhh):
    """PyTorch's equations, batch-first, row vectors (x W). Returns (out, h_n, c_n, tape)."""
    batch, steps, _ = x.shape
    hidden = whh.shape[0]
    h = np.zeros((batch, hidden)) if h0 is None else h0.reshape(batch, hidden).astype(np.float64)
    c = np.zeros((batch, hidden)) if c0 is None else c0.reshape(batch, hidden).astype(np.float64)
    out = np.empty((batch, steps, hidden))
    tape = []
    for t in range(steps):
        gx = x[:, t].astype(np.float64) @ wih + bih
        gh = h @ whh + bhh
        if gates == 4:
            i, f, g, o = np.split(gx + gh, 4, axis=1)
            i, f, g, o = sigmoid(i), sigmoid(f), np.tanh(g), sigmoid(o)
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
            tape.append((h, c, i, f, g, o, c_new))
            c = c_new
        else:
            r = sigmoid(gx[:, :hidden] + gh[:, :hidden])
            z = sigmoid(gx[:, hidden:2 * hidden] + gh[:, hidden:2 * hidden])
            n = np.tanh(gx[:, 2 * hidden:] + r * gh[:, 2 * hidden:])
            h_new = (1 - z) * n + z * h
            tape.append((h, r, z, n, gh[:, 2 * hidden:]))
        h = h_new
        out[:, t] = h
    return out, h, c, tape


def reference_backward(gates, x, wih, whh, tape, d_out, d_hn, d_cn):
    """BPTT of L = sum(out d_out) + sum(h_n d_hn) + sum(c_n d_cn): (dW_ih, db_ih, dW_hh,
    db_hh, dx, dh0, dc0)."""
    batch, steps, _ = x.shape
    hidden = whh.shape[0]
    dwih, dwhh = np.zeros_like(wih), np.zeros_like(whh)
    dbih, dbhh = np.zeros(wih.shape[1]), np.zeros(wih.shape[1])
    dx = np.zeros(x.shape)
    dh_next = np.zeros((batch, hidden)) if d_hn is None else d_hn.reshape(batch, hidden).astype(np.float64)
    dc_next = np.zeros((batch, hidden)) if d_cn is None else d_cn.reshape(batch, hidden).astype(np.float64)
    for t in reversed(range(steps)):
        dh = dh_next + (0 if d_out is None else d_out[:, t])
        if gates == 4:
            h_prev, c_prev, i, f, g, o, c_t = tape[t]
            tc = np.tanh(c_t)
            dc = dc_next + dh * o * (1 - tc * tc)
            dpre = np.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                                   dh * tc * o * (1 - o)], axis=1)
            dgx = dgh = dpre
            dc_next = dc * f
            carried = 0
        else:
            h_prev, r, z, n, ghn = tape[t]
            an = dh * (1 - z) * (1 - n * n)
            ar = an * ghn * r * (1 - r)
            az = dh * (h_prev - n) * z * (1 - z)
            dgx = np.concatenate([ar, az, an], axis=1)
            dgh = np.concatenate([ar, az, an * r], axis=1)
            carried = dh * z
        xt = x[:, t].astype(np.float64)
        dwih += xt.T @ dgx
        dbih += dgx.sum(axis=0)
        dwhh += h_prev.T @ dgh
        dbhh += dgh.sum(axis=0)
        dx[:, t] = dgx @ wih.T
        dh_next = dgh @ whh.T + carried
    return dwih, dbih, dwhh, dbhh, dx, dh_next, dc_next


CASES = [
    # kind, input_size or modes, hidden, rank, output_modes, order
    ("lstm", 6, 5, 3, None, 2),
    ("lstm", (2, 3, 2), 4, [2, 3], (4, 2, 2), 3),
    ("lstm", 7, 3, 1, None, 1),
    ("gru", (2, 2, 2), 4, [2, 3], (3, 2, 2), 3),
    ("gru", 12, 5, 4, None, 2),
    ("gru", 5, 2, [1, 1], None, 1),
]


def make(kind, ins, hidden, rank, outs, order, dtype, seed=3):
    cls = nn.TTLSTM if kind == "lstm" else nn.TTGRU
    return cls(ins, hidden, rank, output_modes=outs, order=order, dtype=dtype, seed=seed)


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c[0]}-{c[1]}-{c[2]}")
def test_forward_and_every_gradient_match_the_reference(case, dtype, tol, rng):
    kind = case[0]
    layer = make(*case, dtype=dtype)
    gates = 4 if kind == "lstm" else 3
    hidden = layer.hidden_size
    assert int(np.prod(layer.output_modes)) == gates * hidden
    assert int(np.prod(layer.input_modes)) == layer.input_size
    batch, steps = 3, 4
    x = rng.standard_normal((batch, steps, layer.input_size)).astype(dtype)
    h0 = (0.5 * rng.standard_normal((1, batch, hidden))).astype(dtype)
    c0 = (0.5 * rng.standard_normal((1, batch, hidden))).astype(dtype)
    cores, wih, bih, whh, bhh = params64(layer)
    if kind == "lstm":
        out, (h_n, c_n) = layer(x, h0, c0)
        assert c_n.shape == (1, batch, hidden) and c_n.dtype == dtype
    else:
        out, h_n = layer(x, h0)
    assert out.shape == (batch, steps, hidden) and h_n.shape == (1, batch, hidden) and out.dtype == dtype
    r_out, r_hn, r_cn, tape = reference(gates, x, h0, c0 if kind == "lstm" else None, wih, bih, whh, bhh)
    np.testing.assert_allclose(out, r_out, rtol=0, atol=tol)
    np.testing.assert_allclose(h_n[0], r_hn, rtol=0, atol=tol)
    if kind == "lstm":
        np.testing.assert_allclose(c_n[0], r_cn, rtol=0, atol=tol)

    d_out = rng.standard_normal(out.shape).astype(dtype)
    d_hn = rng.standard_normal(h_n.shape).astype(dtype)
    d_cn = rng.standard_normal(h_n.shape).astype(dtype) if kind == "lstm" else None
    if kind == "lstm":
        dx, (dh0, dc0) = layer.backward(d_out, d_hn, d_cn, initial_state_grads=True)
        assert dc0.shape == (1, batch, hidden)
    else:
        dx, dh0 = layer.backward(d_out, d_hn, initial_state_grads=True)
    assert dx.shape == x.shape and dh0.shape == (1, batch, hidden)
    dwih, dbih, dwhh, dbhh, r_dx, r_dh0, r_dc0 = reference_backward(gates, x, wih, whh, tape, d_out, d_hn, d_cn)
    grads = layer.grads()
    scale = lambda a: tol * max(1.0, np.abs(a).max())  # noqa: E731
    np.testing.assert_allclose(dx, r_dx, rtol=0, atol=scale(r_dx))
    np.testing.assert_allclose(dh0[0], r_dh0, rtol=0, atol=scale(r_dh0))
    if kind == "lstm":
        np.testing.assert_allclose(dc0[0], r_dc0, rtol=0, atol=scale(r_dc0))
    np.testing.assert_allclose(grads["bias_ih"], dbih, rtol=0, atol=scale(dbih))
    np.testing.assert_allclose(grads["weight_hh"], dwhh, rtol=0, atol=scale(dwhh))
    np.testing.assert_allclose(grads["bias_hh"], dbhh, rtol=0, atol=scale(dbhh))
    for k, expected in enumerate(core_gradients(cores, dwih)):
        np.testing.assert_allclose(grads[f"core_{k}"], expected, rtol=0, atol=scale(expected), err_msg=f"core_{k}")


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_the_reference_gradients_match_central_differences(kind, rng):
    """The hand-written BPTT above is itself checked on a few entries of every gradient."""
    layer = make(kind, (2, 3), 3, 2, None, 2, np.float64)
    gates = 4 if kind == "lstm" else 3
    x = rng.standard_normal((2, 3, 6))
    h0, c0 = rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 3))
    d_out, d_hn, d_cn = rng.standard_normal((2, 3, 3)), rng.standard_normal((1, 2, 3)), rng.standard_normal((1, 2, 3))
    cores, wih, bih, whh, bhh = params64(layer)
    c0r = c0 if kind == "lstm" else None
    d_cnr = d_cn if kind == "lstm" else None

    def loss(cores, bih, whh, bhh, x, h0, c0r):
        out, hn, cn, _ = reference(gates, x, h0, c0r, dense_wih(cores), bih, whh, bhh)
        return (out * d_out).sum() + (hn * d_hn[0]).sum() + ((cn * d_cnr[0]).sum() if kind == "lstm" else 0)

    _, _, _, tape = reference(gates, x, h0, c0r, wih, bih, whh, bhh)
    dwih, dbih, dwhh, dbhh, dx, dh0, dc0 = reference_backward(gates, x, wih, whh, tape, d_out, d_hn, d_cnr)
    analytic = {"core_0": core_gradients(cores, dwih)[0], "core_1": core_gradients(cores, dwih)[1],
                "bias_ih": dbih, "weight_hh": dwhh, "bias_hh": dbhh, "x": dx, "h0": dh0[None], "c0": dc0[None]}
    values = {"core_0": cores[0], "core_1": cores[1], "bias_ih": bih, "weight_hh": whh, "bias_hh": bhh,
              "x": x, "h0": h0, "c0": c0}
    names = list(analytic) if kind == "lstm" else [n for n in analytic if n != "c0"]
    for name in names:
        v = values[name]
        for flat in rng.choice(v.size, size=min(3, v.size), replace=False):
            idx = np.unravel_index(flat, v.shape)
            keep = v[idx]
            v[idx] = keep + 1e-6
            up = loss(cores, bih, whh, bhh, x, h0, c0r)
            v[idx] = keep - 1e-6
            down = loss(cores, bih, whh, bhh, x, h0, c0r)
            v[idx] = keep
            fd = (up - down) / 2e-6
            assert abs(fd - analytic[name][idx]) <= 1e-6 * max(1, abs(fd)), (name, idx, fd, analytic[name][idx])


def test_states_default_to_zeros_and_accept_2d(rng):
    layer = nn.TTLSTM((2, 2), 3, 2, dtype=np.float64, seed=1)
    x = rng.standard_normal((2, 5, 4))
    out, (h_n, c_n) = layer(x)
    out0, (h0n, c0n) = layer(x, np.zeros((1, 2, 3)), np.zeros((2, 3)))
    np.testing.assert_array_equal(out, out0)
    np.testing.assert_array_equal(c_n, c0n)
    np.testing.assert_allclose(out[:, -1], h_n[0])
    # Only the final state's gradient, no d_output; dh0 takes the forward's (2, 3) form.
    dx, (dh0, dc0) = layer.backward(None, np.ones((1, 2, 3)), initial_state_grads=True)
    assert dh0.shape == (1, 2, 3) and dc0.shape == (2, 3)
    assert layer.backward(np.ones((2, 5, 3)), input_grad=False) is None
    # A strided (non-contiguous) input gives the same result as a contiguous copy.
    wide = rng.standard_normal((2, 5, 8))
    a, _ = layer(wide[:, :, ::2])
    b, _ = layer(np.ascontiguousarray(wide[:, :, ::2]))
    np.testing.assert_array_equal(a, b)


def test_parameters_are_the_layer_storage_and_sizes(rng):
    layer = nn.TTGRU(8, 4, 2, order=3, dtype=np.float64)
    assert layer.input_modes == (2, 2, 2) and layer.output_modes == (3, 2, 2) and layer.ranks == (1, 2, 2, 1)
    names = list(layer.parameters())
    assert names == ["core_0", "core_1", "core_2", "bias_ih", "weight_hh", "bias_hh"]
    assert layer.parameters()["weight_hh"].shape == (4, 12)
    assert layer.n_params == sum(v.size for v in layer.parameters().values())
    assert layer.compression == pytest.approx(12 * (8 + 4 + 2) / layer.n_params)
    x = rng.standard_normal((1, 2, 8))
    before, _ = layer(x)
    layer.parameters()["bias_hh"][:] += 1.0   # written in place: the layer changes
    after, _ = layer(x)
    assert not np.allclose(before, after)
    layer.backward(np.ones_like(after))
    layer.zero_grad()
    assert all(not g.any() for g in layer.grads().values())
    text = repr(layer)
    assert text.startswith("TTGRU(input_modes=(2, 2, 2), hidden_size=4") and "compression=" in text
    assert "transpose" in nn.TTLSTM.__doc__ and "weight_hh_l0" in nn.TTGRU.__doc__
    # Same seed, same parameters.
    again = nn.TTGRU(8, 4, 2, order=3, dtype=np.float64)
    for k, v in again.parameters().items():
        np.testing.assert_allclose(v, layer.parameters()[k] - (1.0 if k == "bias_hh" else 0.0), rtol=0, atol=1e-15)


def test_argument_errors():
    with pytest.raises(tnswift.ShapeError, match="output"):
        nn.TTLSTM(6, 5, 2, output_modes=(4, 4), order=2)
    with pytest.raises(tnswift.ShapeError, match="as many output modes"):
        nn.TTGRU((2, 3), 4, 2, output_modes=(12,))
    with pytest.raises(tnswift.ShapeError, match="rank"):
        nn.TTLSTM((2, 3, 2), 4, [2, 2, 2])
    with pytest.raises(tnswift.ArgumentError, match="rank"):
        nn.TTLSTM(6, 4, 0)
    with pytest.raises(tnswift.ArgumentError, match="hidden_size"):
        nn.TTGRU(6, 0, 2)
    with pytest.raises(tnswift.ShapeError, match="input_size"):
        nn.TTGRU((2, 0), 3, 2)
    with pytest.raises(tnswift.DTypeError):
        nn.TTGRU(6, 3, 2, dtype=np.int32)
    layer = nn.TTLSTM((2, 3), 3, 2)
    with pytest.raises(tnswift.ArgumentError, match="forward"):
        layer.backward(np.zeros((1, 1, 3), np.float32))
    with pytest.raises(tnswift.ShapeError, match="batch-first"):
        layer(np.zeros((2, 6), np.float32))
    with pytest.raises(tnswift.ShapeError, match="batch-first"):
        layer(np.zeros((2, 3, 5), np.float32))
    with pytest.raises(tnswift.ShapeError, match="empty"):
        layer(np.zeros((2, 0, 6), np.float32))
    with pytest.raises(tnswift.DTypeError, match="float32"):
        layer(np.zeros((2, 3, 6)))
    with pytest.raises(tnswift.ShapeError, match="h0"):
        layer(np.zeros((2, 3, 6), np.float32), np.zeros((1, 3, 3), np.float32))
    with pytest.raises(tnswift.DTypeError):
        layer(np.zeros((2, 3, 6), np.float32), None, np.zeros((1, 2, 3)))
    out, _ = layer(np.zeros((2, 3, 6), np.float32))
    with pytest.raises(tnswift.ShapeError, match="d_output"):
        layer.backward(np.zeros((2, 4, 3), np.float32))
    with pytest.raises(tnswift.ShapeError, match="d_c_n"):
        layer.backward(out, None, np.zeros((3, 3), np.float32))
    bad = np.ones_like(out)
    bad[0, 1, 2] = np.nan
    with pytest.raises(tnswift.ArgumentError, match="NaN"):
        layer.backward(bad)
    with pytest.raises(TypeError):
        nn.TTGRU(6, 3, 2)(np.zeros((2, 3, 6), np.float32), None, None)


def _torch_weights(layer, torch):
    """W_ih from differentiable torch cores, and every parameter as a torch leaf."""
    p = {k: torch.tensor(v.astype(np.float64), requires_grad=True) for k, v in layer.parameters().items()}
    d = len(layer.input_modes)
    eq = ",".join(core_terms(d)) + "->" + ROWS[:d] + COLS[:d]
    wih = torch.einsum(eq, *[p[f"core_{k}"] for k in range(d)]).reshape(layer.input_size, -1)
    # torch stores (G * hidden, input) and (G * hidden, hidden): the transposes of ours.
    return p, {"weight_ih_l0": wih.T, "weight_hh_l0": p["weight_hh"].T, "bias_ih_l0": p["bias_ih"],
               "bias_hh_l0": p["bias_hh"]}


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_equals_torch_with_the_same_weights(kind, rng):
    torch = pytest.importorskip("torch")
    from torch.func import functional_call

    layer = make(kind, (2, 3, 2), 5, [3, 2], None, 3, np.float64, seed=9)
    batch, steps, hidden = 3, 6, 5
    x = rng.standard_normal((batch, steps, 12))
    h0, c0 = rng.standard_normal((1, batch, hidden)), rng.standard_normal((1, batch, hidden))
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(12, hidden, batch_first=True).double()
    p, weights = _torch_weights(layer, torch)
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True)
    state = (h0t, c0t) if kind == "lstm" else h0t
    t_out, t_state = functional_call(module, weights, (xt, state))
    d_out, d_hn, d_cn = rng.standard_normal((batch, steps, hidden)), rng.standard_normal((1, batch, hidden)), \
        rng.standard_normal((1, batch, hidden))
    if kind == "lstm":
        out, (h_n, c_n) = layer(x, h0, c0)
        t_hn, t_cn = t_state
        np.testing.assert_allclose(c_n, t_cn.detach().numpy(), rtol=0, atol=1e-12)
        loss = (t_out * torch.tensor(d_out)).sum() + (t_hn * torch.tensor(d_hn)).sum() + (t_cn * torch.tensor(d_cn)).sum()
        dx, (dh0, dc0) = layer.backward(d_out, d_hn, d_cn, initial_state_grads=True)
    else:
        out, h_n = layer(x, h0)
        t_hn = t_state
        loss = (t_out * torch.tensor(d_out)).sum() + (t_hn * torch.tensor(d_hn)).sum()
        dx, dh0 = layer.backward(d_out, d_hn, initial_state_grads=True)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-12)
    np.testing.assert_allclose(h_n, t_hn.detach().numpy(), rtol=0, atol=1e-12)
    loss.backward()
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-11)
    np.testing.assert_allclose(dh0, h0t.grad.numpy(), rtol=0, atol=1e-11)
    if kind == "lstm":
        np.testing.assert_allclose(dc0, c0t.grad.numpy(), rtol=0, atol=1e-11)
    for name, g in layer.grads().items():
        np.testing.assert_allclose(g, p[name].grad.numpy(), rtol=0, atol=1e-11, err_msg=name)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_float32_matches_torch(kind, rng):
    torch = pytest.importorskip("torch")
    from torch.func import functional_call

    layer = make(kind, 6, 4, 2, None, 2, np.float32, seed=2)
    x = rng.standard_normal((2, 5, 6)).astype(np.float32)
    module = (torch.nn.LSTM if kind == "lstm" else torch.nn.GRU)(6, 4, batch_first=True).double()
    _, weights = _torch_weights(layer, torch)
    t_out, _ = functional_call(module, weights, (torch.tensor(x, dtype=torch.float64),))
    out, _ = layer(x)
    np.testing.assert_allclose(out, t_out.detach().numpy(), rtol=0, atol=1e-4)
