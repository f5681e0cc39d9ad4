"""tnswift.nn convolutions: Conv2d, CPConv2d, TuckerConv2d and TTConv2d against a NumPy
float64 reference convolution written here (output, dx, the kernel gradient and, through the
kernel's definition, every parameter gradient), PyTorch's conv2d when torch is importable,
the seed's tensorly-torch CP convolution fixture, from_dense, parameter views and errors."""

import os

import numpy as np
import pytest

import tnswift
from tnswift import nn

HERE = os.path.dirname(os.path.abspath(__file__))


# ----------------------------------------------------------------------------- reference

def pads(padding, kernel, dilation):
    """(top, bottom, left, right) as PyTorch pads."""
    if padding == "valid":
        return 0, 0, 0, 0
    if padding == "same":
        th, tw = dilation[0] * (kernel[0] - 1), dilation[1] * (kernel[1] - 1)
        return th // 2, th - th // 2, tw // 2, tw - tw // 2
    ph, pw = (padding, padding) if isinstance(padding, int) else padding
    return ph, ph, pw, pw


def ref_conv(x, k, bias, stride, padding, dilation, dy=None):
    """y, and with dy also (dx, dK), of a 2-D cross-correlation in float64, tap by tap."""
    n, c, h, w = x.shape
    o, _, kh, kw = k.shape
    (sh, sw), (dh, dw) = stride, dilation
    t, b, l, r = pads(padding, (kh, kw), dilation)
    xp = np.pad(x.astype(np.float64), ((0, 0), (0, 0), (t, b), (l, r)))
    oh = (h + t + b - dh * (kh - 1) - 1) // sh + 1
    ow = (w + l + r - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((n, o, oh, ow))
    window = lambda i, j: (slice(None), slice(None), slice(i * dh, i * dh + sh * (oh - 1) + 1, sh),  # noqa: E731
                           slice(j * dw, j * dw + sw * (ow - 1) + 1, sw))
    for i in range(kh):
        for j in range(kw):
            y += np.einsum("nchw,oc->nohw", xp[window(i, j)], k[:, :, i, j])
    if bias is not None:
        y += bias[None, :, None, None]
    if dy is None:
        return y
    dxp = np.zeros_like(xp)
    dk = np.zeros(k.shape)
    for i in range(kh):
        for j in range(kw):
            dxp[window(i, j)] += np.einsum("nohw,oc->nchw", dy, k[:, :, i, j])
            dk[:, :, i, j] = np.einsum("nohw,nchw->oc", dy, xp[window(i, j)])
    return y, dxp[:, :, t:t + h, l:l + w], dk


def kernel_equation(layer):
    """The kernel's definition as an einsum over the parameters (in their order)."""
    if isinstance(layer, nn.CPConv2d):
        o = "ABCD"[:len(layer.out_modes)]
        c = "EFGH"[:len(layer.in_modes)]
        return ",".join(["r"] + [f"{m}r" for m in o + c + "uv"]) + f"->{o}{c}uv"
    if isinstance(layer, nn.TuckerConv2d):
        return "pquv,Op,Iq->OIuv"
    if isinstance(layer, nn.TTConv2d):
        d = len(layer.in_modes)
        cores = [f"{'pqrst'[k]}{'EFGH'[k]}{'ABCD'[k]}{'pqrst'[k + 1]}" for k in range(d)]
        return ",".join(["uvp"] + cores) + f"->{'ABCD'[:d]}{'EFGH'[:d]}uv"
    return "OIuv->OIuv"


def param_values(layer):
    return [v.astype(np.float64) for name, v in layer.parameters().items() if name != "bias"]


def ref_kernel(layer):
    k = np.einsum(kernel_equation(layer), *param_values(layer))
    return k.reshape(layer.out_channels, layer.in_channels, *layer.kernel_size)


def ref_param_grads(layer, dk):
    """<dK, dK/dtheta_p> for each parameter: the einsum with operand p moved to the output."""
    eq = kernel_equation(layer)
    ins, out = eq.split("->")
    terms = ins.split(",")
    values = param_values(layer)
    dk = dk.reshape(np.einsum(eq, *values).shape)
    grads = []
    for p in range(len(terms)):
        others = [t for q, t in enumerate(terms) if q != p]
        # A label only operand p carries (the TT's trailing size-1 bond) is added back by reshape.
        kept = "".join(c for c in terms[p] if c in out + "".join(others))
        g = np.einsum(",".join([out] + others) + "->" + kept, dk, *[v for q, v in enumerate(values) if q != p])
        grads.append(g.reshape(values[p].shape))
    return grads


def rel(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-300))


def randomize(layer, rng):
    for v in layer.parameters().values():
        v[...] = rng.standard_normal(v.shape)


CASES = [
    # (constructor, input shape, padding)
    (lambda p: nn.Conv2d(3, 4, (3, 2), stride=(2, 1), padding=p, dilation=(1, 2), dtype=np.float64), (2, 3, 7, 6), (1, 0)),
    (lambda p: nn.Conv2d(2, 3, 4, padding=p, dilation=(1, 2), bias=False, dtype=np.float64), (1, 2, 5, 9), "same"),
    (lambda p: nn.Conv2d(2, 3, 3, stride=2, padding=p, dtype=np.float64), (2, 2, 7, 8), "valid"),
    (lambda p: nn.CPConv2d((2, 3), (2, 2), 3, 3, padding=p, dilation=(2, 1), dtype=np.float64), (2, 6, 7, 5), "same"),
    (lambda p: nn.CPConv2d(3, 2, (2, 3), 1, stride=2, padding=p, dtype=np.float64), (1, 3, 7, 9), "valid"),
    (lambda p: nn.CPConv2d(4, 5, (3, 1), 4, stride=(1, 2), padding=p, dilation=2, bias=False, dtype=np.float64),
     (3, 4, 5, 6), (2, 1)),
    (lambda p: nn.TuckerConv2d(5, 4, 3, (2, 3), stride=2, padding=p, dtype=np.float64), (2, 5, 7, 6), 1),
    (lambda p: nn.TuckerConv2d(3, 2, 2, 1, padding=p, dilation=(2, 1), bias=False, dtype=np.float64), (1, 3, 5, 5), "same"),
    (lambda p: nn.TTConv2d((2, 2), (3, 2), (2, 3), (2, 3), stride=(1, 2), padding=p, dilation=(2, 1), dtype=np.float64),
     (2, 4, 6, 7), (0, 1)),
    (lambda p: nn.TTConv2d(3, 2, 3, 1, padding=p, bias=False, dtype=np.float64, order=1), (1, 3, 5, 4), "same"),
    (lambda p: nn.TTConv2d((2, 1, 2), (1, 2, 2), (3, 2), (3, 2, 2), stride=(2, 1), padding=p, dtype=np.float64),
     (2, 4, 7, 5), "valid"),
]


@pytest.mark.parametrize("case", range(len(CASES)))
def test_against_numpy_reference(case, rng):
    make, shape, padding = CASES[case]
    layer = make(padding)
    randomize(layer, rng)
    k = ref_kernel(layer)
    assert rel(layer.to_dense(), k) <= 1e-12
    bias = layer.parameters().get("bias")
    x = rng.standard_normal(shape)
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    y_ref, dx_ref, dk_ref = ref_conv(x, k, bias, layer.stride, padding, layer.dilation, dy)
    assert y.shape == y_ref.shape == layer.output_shape(shape)
    assert rel(y, y_ref) <= 1e-9
    dx = layer.backward(dy)
    assert rel(dx, dx_ref) <= 1e-9
    grads = layer.grads()
    names = [n for n in grads if n != "bias"]
    for name, g_ref in zip(names, ref_param_grads(layer, dk_ref)):
        assert rel(grads[name], g_ref) <= 1e-9, name
    if layer.bias:
        assert rel(grads["bias"], dy.sum(axis=(0, 2, 3))) <= 1e-12


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("case", range(len(CASES)))
def test_against_torch(case, rng):
    torch = pytest.importorskip("torch")
    make, shape, padding = CASES[case]
    layer = make(padding)
    randomize(layer, rng)
    x = rng.standard_normal(shape)
    y = layer(x)
    dy = rng.standard_normal(y.shape)
    dx = layer.backward(dy)
    tx = torch.tensor(x, requires_grad=True)
    tk = torch.tensor(layer.to_dense(), requires_grad=True)
    tb = torch.tensor(layer.parameters()["bias"]) if layer.bias else None
    tpad = padding if isinstance(padding, str) else (padding if isinstance(padding, tuple) else (padding, padding))
    ty = torch.nn.functional.conv2d(tx, tk, tb, stride=layer.stride, padding=tpad, dilation=layer.dilation)
    ty.backward(torch.tensor(dy))
    assert rel(y, ty.detach().numpy()) <= 1e-9
    assert rel(dx, tx.grad.numpy()) <= 1e-9
    # The parameter gradients through torch autograd of the kernel's definition.
    params = [torch.tensor(v, requires_grad=True) for v in param_values(layer)]
    k = torch.einsum(kernel_equation(layer), *params).reshape(tk.shape)
    k.backward(tk.grad)
    for (name, g), p in zip([(n, g) for n, g in layer.grads().items() if n != "bias"], params):
        assert rel(g, p.grad.numpy()) <= 1e-9, name


def test_seed_cp_conv_fixture():
    """The seed's CP convolution (tensorly-torch 0.5 FactorizedConv, 16 -> 32 channels,
    tensorized (4, 4) -> (4, 8), 3x3, rank 100, padding "same", float64)."""
    f = np.load(os.path.join(HERE, "fixtures", "seed001_cp_conv.npz"))
    layer = nn.CPConv2d((4, 4), (4, 8), 3, 100, padding="same", bias=False, dtype=np.float64)
    assert layer.in_modes == (4, 4) and layer.out_modes == (4, 8) and layer.rank == 100
    p = layer.parameters()
    p["weights"][...] = f["weights"]
    for i in range(6):
        p[f"factor_{i}"][...] = f[f"factor_{i}"]
    assert rel(layer.to_dense(), f["kernel"]) <= 1e-12
    y = layer(f["x"])
    assert rel(y, f["y"]) <= 1e-12
    dx = layer.backward(f["dy"])
    assert rel(dx, f["dx"]) <= 1e-12
    g = layer.grads()
    for i in range(6):
        assert rel(g[f"factor_{i}"], f[f"dfactor_{i}"]) <= 1e-12, i
    # The fixture has no weights gradient: check it against the reference.
    dk = ref_conv(f["x"], f["kernel"], None, (1, 1), "same", (1, 1), f["dy"])[2]
    assert rel(g["weights"], ref_param_grads(layer, dk)[0]) <= 1e-12


def test_parameters_are_views(rng):
    layer = nn.TuckerConv2d(4, 6, 3, (3, 2), padding=1, dtype=np.float64)
    x = rng.standard_normal((2, 4, 5, 5))
    y0 = layer(x)
    core = layer.parameters()["core"]
    core *= 2  # bias is zero: y is linear in the core
    assert rel(layer(x), 2 * y0) <= 1e-12
    assert rel(layer.to_dense(), ref_kernel(layer)) <= 1e-12
    layer.parameters()["bias"][...] = 1.5
    assert rel(layer(x), 2 * y0 + 1.5) <= 1e-12
    grads = layer.grads()
    layer.backward(np.ones_like(y0))
    assert np.array_equal(grads["bias"], np.full(6, 2 * 5 * 5, dtype=np.float64))
    layer.zero_grad()
    assert not layer.grads()["core"].any()
    del layer
    core += 1  # the storage outlives the layer object


def test_strided_input_and_float32(rng):
    layer64 = nn.TTConv2d((2, 4), (4, 2), 3, 3, stride=2, padding=1, dtype=np.float64, seed=3)
    layer32 = nn.TTConv2d((2, 4), (4, 2), 3, 3, stride=2, padding=1, dtype=np.float32, seed=3)
    assert rel(layer32.to_dense(), layer64.to_dense()) <= 1e-6
    big = rng.standard_normal((2, 8, 18, 9))
    x = big[:, :, ::2, :]  # not contiguous
    y = layer64(x)
    assert rel(y, layer64(np.ascontiguousarray(x))) == 0
    y32 = layer32(x.astype(np.float32))
    assert y32.dtype == np.float32
    assert rel(y32, y) <= 1e-5
    dx = layer64.backward(np.ones_like(y))
    assert dx.shape == x.shape


def test_from_dense(rng):
    source = nn.CPConv2d((2, 3), (2, 2), 3, 2, dtype=np.float64)
    randomize(source, rng)
    kernel = source.to_dense()
    bias = rng.standard_normal(4)
    cp = nn.CPConv2d.from_dense(kernel, bias, rank=2, in_modes=(2, 3), out_modes=(2, 2), stride=(2, 1), padding=(1, 0),
                                dilation=(1, 2))
    assert rel(cp.to_dense(), kernel) <= 1e-8
    assert cp.stride == (2, 1) and cp.padding == (1, 0) and cp.dilation == (1, 2) and cp.rank == 2
    assert np.array_equal(cp.parameters()["bias"], bias)
    x = rng.standard_normal((1, 6, 7, 6))
    assert rel(cp(x), ref_conv(x, kernel, bias, (2, 1), (1, 0), (1, 2))) <= 1e-8
    assert nn.CPConv2d.from_dense(kernel, eps=1e-6).rank <= 2

    k = rng.standard_normal((8, 6, 3, 3))
    err = lambda layer: np.linalg.norm(layer.to_dense() - k) / np.linalg.norm(k)  # noqa: E731
    tucker = nn.TuckerConv2d.from_dense(k, eps=0.3, padding="same")
    assert err(tucker) <= 0.3 and tucker.padding == "same"
    assert err(nn.TuckerConv2d.from_dense(k, rank=(8, 6))) <= 1e-12
    tt = nn.TTConv2d.from_dense(k, eps=0.25, in_modes=(2, 3), out_modes=(2, 4))
    assert err(tt) <= 0.25 and tt.in_modes == (2, 3)
    assert err(nn.TTConv2d.from_dense(k, rank=1000)) <= 1e-12
    dense = nn.Conv2d.from_dense(k, padding="valid")
    assert np.array_equal(dense.to_dense(), k) and dense.padding == "valid"
    assert dense.compression == 1.0
    assert tucker.n_params == sum(v.size for v in tucker.parameters().values())
    assert cp.compression == pytest.approx((4 * 6 * 9 + 4) / cp.n_params)


def test_initial_variance():
    """The reconstructed kernel has PyTorch's dense variance 1 / (3 C kh kw) (over seeds)."""
    target = 1 / (3 * 32 * 9)
    makers = [lambda s: nn.CPConv2d((4, 8), (8, 8), 3, 16, seed=s, dtype=np.float64),
              lambda s: nn.TuckerConv2d(32, 64, 3, (16, 8), seed=s, dtype=np.float64),
              lambda s: nn.TTConv2d((4, 8), (8, 8), 3, (4, 6), seed=s, dtype=np.float64)]
    for make in makers:
        v = np.mean([make(s).to_dense().var() for s in range(16)])
        assert abs(v / target - 1) < 0.25


def test_bad_inputs(rng):
    layer = nn.CPConv2d(3, 2, 3, 2, dtype=np.float64)
    with pytest.raises(tnswift.ShapeError, match="channels"):
        layer(np.zeros((1, 4, 5, 5)))
    with pytest.raises(tnswift.ShapeError, match="padded input"):
        layer(np.zeros((1, 3, 2, 5)))
    with pytest.raises(tnswift.ShapeError):
        layer(np.zeros((3, 5, 5)))
    with pytest.raises(tnswift.DTypeError):
        layer(np.zeros((1, 3, 5, 5), dtype=np.float32))
    with pytest.raises(TypeError):
        layer(np.zeros((1, 3, 5, 5), dtype=np.complex128))
    with pytest.raises(tnswift.ArgumentError, match="forward"):
        nn.CPConv2d(3, 2, 3, 2, dtype=np.float64).backward(np.zeros((1, 2, 3, 3)))
    y = layer(rng.standard_normal((1, 3, 5, 5)))
    with pytest.raises(tnswift.ShapeError):
        layer.backward(np.zeros((1, 2, 3, 4)))
    bad = np.zeros_like(y)
    bad[0, 1, 1, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        layer.backward(bad)
    for kwargs in ({"stride": 0}, {"dilation": (1, 0)}, {"padding": -1}, {"padding": "full"},
                   {"stride": 2, "padding": "same"}, {"kernel_size": 0}, {"rank": 0}, {"stride": (1, 2, 3)}):
        args = {"in_channels": 3, "out_channels": 2, "kernel_size": 3, "rank": 2}
        args.update(kwargs)
        with pytest.raises(ValueError):
            nn.CPConv2d(**args)
    with pytest.raises(ValueError):
        nn.TuckerConv2d(3, 2, 3, (2, 5))
    with pytest.raises(ValueError):
        nn.TTConv2d((2, 2), (4,), 3, 2)
    with pytest.raises(MemoryError):
        nn.Conv2d(2**40, 2**40, 3)
    with pytest.raises(TypeError):
        nn.Conv2d(3, 2, 3, dtype=np.int32)
    kernel = np.zeros((2, 3, 3, 3))
    with pytest.raises(ValueError, match="exactly one"):
        nn.CPConv2d.from_dense(kernel)
    with pytest.raises(ValueError, match="exactly one"):
        nn.CPConv2d.from_dense(kernel, rank=1, eps=0.1)
    with pytest.raises(tnswift.ShapeError):
        nn.CPConv2d.from_dense(np.zeros((2, 3, 3)), rank=1)
    with pytest.raises(tnswift.ShapeError):
        nn.CPConv2d.from_dense(kernel, rank=1, in_modes=(2, 2))
    with pytest.raises(tnswift.ShapeError):
        nn.TuckerConv2d.from_dense(kernel, np.zeros(3), rank=1)
    with pytest.raises(tnswift.DTypeError):
        nn.TuckerConv2d.from_dense(kernel, np.zeros(2, dtype=np.float32), rank=1)
    bad_kernel = kernel.copy()
    bad_kernel[0, 0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        nn.TTConv2d.from_dense(bad_kernel, rank=1, order=1)


def test_empty_batch(rng):
    layer = nn.CPConv2d(3, 4, 3, 2, padding=1, dtype=np.float64)
    randomize(layer, rng)
    y = layer(np.zeros((0, 3, 5, 6)))
    assert y.shape == (0, 4, 5, 6)
    dx = layer.backward(np.zeros(y.shape))
    assert dx.shape == (0, 3, 5, 6)
    assert all(not g.any() for g in layer.grads().values())


def test_sequential_and_optimizer(rng):
    """Convolutions train in nn.Sequential with tnswift.optim (duck-typed layers)."""
    from tnswift import optim
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, dtype=np.float64, seed=1), nn.ReLU(),
                          nn.CPConv2d(4, 1, 3, 3, padding="same", dtype=np.float64, seed=2))
    x = rng.standard_normal((8, 2, 6, 6))
    target = ref_conv(x, rng.standard_normal((1, 2, 3, 3)) * 0.3, None, (1, 1), "same", (1, 1))
    opt = optim.Adam([model], lr=0.01)
    losses = []
    for _ in range(40):
        y = model(x)
        loss, grad = nn.mse_loss(y, target)
        model.backward(grad)
        opt.step()
        losses.append(loss)
    assert losses[-1] < 0.5 * losses[0]


@pytest.mark.parametrize("case", [0, 3, 6, 8])
def test_backward_without_input_grad(case, rng):
    """input_grad=False returns None and gives the same parameter gradients (bit for bit)."""
    make, shape, padding = CASES[case]
    layer = make(padding)
    randomize(layer, rng)
    x = rng.standard_normal(shape)
    dy = rng.standard_normal(layer(x).shape)
    dx = layer.backward(dy)
    assert dx is not None and dx.shape == shape and np.abs(dx).max() > 0
    full = {n: g.copy() for n, g in layer.grads().items()}
    layer.zero_grad()
    assert layer.backward(dy, input_grad=False) is None
    for name, g in layer.grads().items():
        assert np.abs(full[name]).max() > 0, name
        assert np.array_equal(g, full[name]), name
