"""tnswift.torch: einsum and the bridged layers inside torch autograd (gradcheck, values against
torch.einsum and against W rebuilt from the parameters with torch ops), training with torch
optimizers against the same model in plain torch, DistributedDataParallel, state_dict /
torch.save / deepcopy, errors, from_torch and the conversion to tnswift.nn.Sequential."""

import copy
import io
import os
import socket
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import tnswift  # noqa: E402
import tnswift.torch as tt  # noqa: E402
from tnswift import ArgumentError, DTypeError, ShapeError  # noqa: E402

F64 = torch.float64
IN, OUT, BOND = "abcdef", "ghijkl", "ABCDEFGH"


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    # These tensors are tiny: torch's OpenMP pool only adds barrier stalls (100x on a busy
    # 2-core machine), which made the plain-torch reference runs take most of the time.
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def gradcheck(fn, inputs):
    return torch.autograd.gradcheck(fn, inputs, eps=1e-6, atol=1e-7, rtol=1e-6)


def randn(*shape, dtype=F64, grad=False, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(*shape, dtype=dtype, generator=g).requires_grad_(grad)


# ---------------------------------------------------------------------------- import

def _python(code):
    env = dict(os.environ, PYTHONPATH=os.path.dirname(os.path.dirname(tnswift.__file__)))
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)


def test_import_tnswift_leaves_torch_alone_and_missing_torch_says_how_to_install():
    r = _python("import sys, tnswift, tnswift.nn, tnswift.optim; print('torch' in sys.modules)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "False"
    r = _python("import sys\nsys.modules['torch'] = None  # as if torch were not installed\n"
                "try:\n    import tnswift.torch\nexcept ImportError as e:\n    print(e)\n")
    assert r.returncode == 0, r.stderr
    assert "pip install torch" in r.stdout


def test_readme_example_is_the_example_file_and_runs():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "examples", "torch_bridge.py"), encoding="utf-8") as f:
        code = f.read()
    with open(os.path.join(root, "README.md"), encoding="utf-8") as f:
        assert "```python\n" + code + "```" in f.read()
    r = _python(code)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].split()[:3] == ["layer", "in", "out"] and lines[3].startswith("total")
    assert 0 < float(lines[-1].split()[-1]) < 2.5  # cross-entropy over 10 classes starts near 2.3


# ---------------------------------------------------------------------------- einsum

EINSUM_CASES = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("ij,jk", [(3, 4), (4, 5)]),                       # implicit output
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),          # batch
    ("ii->", [(4, 4)]),                                # trace
    ("ii->i", [(4, 4)]),                               # diagonal
    ("iij,jk->ik", [(3, 3, 2), (2, 4)]),               # repeated label inside a product
    ("...ij,...jk->...ik", [(2, 3, 4), (1, 4, 5)]),    # broadcasting over ...
    ("i,i->", [(5,), (5,)]),                           # 0-d output
    ("ij->ji", [(2, 3)]),
    ("nabc,aei,bfij,cgj->nefg", [(2, 3, 2, 3), (3, 2, 2), (2, 2, 2, 3), (3, 2, 3)]),  # TT layer
]


@pytest.mark.parametrize("eq,shapes", EINSUM_CASES, ids=[c[0] for c in EINSUM_CASES])
def test_einsum_matches_torch_and_passes_gradcheck(eq, shapes):
    ops = [randn(*s, grad=True, seed=i) for i, s in enumerate(shapes)]
    y = tt.einsum(eq, *ops)
    ref = torch.einsum(eq, *ops)
    assert y.shape == ref.shape and y.dtype == F64
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda *a: tt.einsum(eq, *a), ops)


def test_einsum_float32_gradients_match_torch():
    eq = "nabc,aei,bfij,cgj->nefg"
    shapes = [(8, 3, 2, 3), (3, 2, 2), (2, 2, 2, 3), (3, 2, 3)]
    ops = [randn(*s, dtype=torch.float32, grad=True, seed=i) for i, s in enumerate(shapes)]
    refs = [o.detach().clone().requires_grad_(True) for o in ops]
    dy = randn(8, 2, 2, 2, dtype=torch.float32, seed=9)
    y = tt.einsum(eq, ops)  # one list of operands, as torch.einsum accepts
    y.backward(dy)
    torch.einsum(eq, *refs).backward(dy)
    assert y.dtype == torch.float32
    for o, r in zip(ops, refs):
        torch.testing.assert_close(o.grad, r.grad, rtol=1e-5, atol=1e-5)


def test_einsum_strided_inputs_expanded_dy_and_partial_requires_grad():
    a = randn(5, 3, grad=True).t()                     # transposed view, (3, 5)
    b = randn(1, 4, seed=1).expand(5, 4)               # stride-0 rows, no gradient wanted
    c = randn(4, 6, grad=True, seed=2)[:, ::2]         # every other column
    eq = "ij,jk,kl->il"
    y = tt.einsum(eq, a, b, c)
    torch.testing.assert_close(y, torch.einsum(eq, a, b, c), rtol=1e-12, atol=1e-12)
    ga, gc = torch.autograd.grad(y.sum(), [a, c])      # dy of .sum() is an expanded tensor
    ra, rc = torch.autograd.grad(torch.einsum(eq, a, b, c).sum(), [a, c])
    torch.testing.assert_close(ga, ra, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(gc, rc, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda a, c: tt.einsum(eq, a, b, c), (a, c))


def test_einsum_plans_are_cached_per_shapes_and_dtype():
    tt._expression.cache_clear()
    a, b = randn(3, 4), randn(4, 5)
    tt.einsum("ij,jk->ik", a, b)
    tt.einsum("ij, jk -> ik", a + 1, b)                # same equation once spaces go
    assert tt._expression.cache_info().hits == 1
    tt.einsum("ij,jk->ik", a.float(), b.float())       # another dtype: another plan
    tt.einsum("ij,jk->ik", randn(2, 4), b)             # another shape: another plan
    assert tt._expression.cache_info().misses == 3


def test_einsum_errors_point_to_torch_einsum():
    a = randn(2, 3)
    with pytest.raises(tt.DeviceError, match="torch.einsum") as info:
        tt.einsum("ij->ji", torch.empty(2, 3, device="meta"))
    assert isinstance(info.value, ValueError) and isinstance(info.value, tnswift.TNError)
    with pytest.raises(DTypeError, match="float16.*torch.einsum"):
        tt.einsum("ij->ji", a.half())
    with pytest.raises(DTypeError, match="int64"):
        tt.einsum("ij->ji", torch.ones(2, 3, dtype=torch.int64))
    with pytest.raises(DTypeError, match="mix float32 and float64"):
        tt.einsum("ij,jk->ik", a.float(), randn(3, 4))
    with pytest.raises(TypeError, match="not a torch.Tensor"):
        tt.einsum("ij,jk->ik", a, np.ones((3, 4)))
    with pytest.raises(ShapeError):
        tt.einsum("ij,jk->ik", a, randn(4, 4))
    with pytest.raises(tnswift.SubscriptError):
        tt.einsum("ij,jk->iz", a, randn(3, 4))
    with pytest.raises(ArgumentError, match="at least one operand"):
        tt.einsum("ij->ji")
    # An operand changed in place after the forward: torch's saved-tensor check fires.
    x = randn(3, 3, grad=True)
    w = randn(3, 3)
    y = tt.einsum("ij,jk->ik", x, w)
    w.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an inplace operation"):
        y.sum().backward()
    # Gradients are first order only: asking for a graph of them raises at once.
    x = randn(3, 3, grad=True)
    with pytest.raises(NotImplementedError, match="first-order"):
        torch.autograd.grad(tt.einsum("ij,jk->ik", x, x).sum(), [x], create_graph=True)
    m = LAYERS["tt"](True)
    with pytest.raises(NotImplementedError, match="first-order"):
        torch.autograd.grad(m(randn(2, m.in_features)).sum(), [m.bias], create_graph=True)


# ---------------------------------------------------------------------------- layers

def dense_weight(module, params=None):
    """W (in_features, out_features) contracted with torch.einsum from the documented
    parameter layouts (``params`` defaults to the module's own)."""
    params = dict(module.named_parameters()) if params is None else params
    d_in, d_out = len(module.in_modes), len(module.out_modes)
    ins, outs = IN[:d_in], OUT[:d_out]
    if isinstance(module, tt.Linear):
        return params["weight"]
    if isinstance(module, tt.TTLinear):
        terms = [BOND[k] + ins[k] + outs[k] + BOND[k + 1] for k in range(d_in)]
        ops = [params[f"core_{k}"] for k in range(d_in)]
    elif isinstance(module, tt.CPLinear):
        terms = ["R"] + [m + "R" for m in ins + outs]
        ops = [params["weights"]] + [params[f"factor_{k}"] for k in range(d_in + d_out)]
    elif isinstance(module, tt.TCL):
        terms = [outs[k] + ins[k] for k in range(d_in)]
        ops = [params[f"factor_{k}"] for k in range(d_in)]
    elif isinstance(module, tt.TTTensorLinear):
        modes = ins + outs
        terms = [BOND[k] + m + BOND[k + 1] for k, m in enumerate(modes)]
        ops = [params[f"core_{k}"] for k in range(len(modes))]
    elif isinstance(module, tt.TuckerLinear):
        modes = ins + outs
        terms = [BOND[:len(modes)]] + [m + BOND[k] for k, m in enumerate(modes)]
        ops = [params["core"]] + [params[f"factor_{k}"] for k in range(len(modes))]
    else:  # EinsumLayer: W's labels are the input's and the output's without the batch
        lhs, rhs = module.equation.replace(" ", "").split("->")
        operands = lhs.split(",")
        terms, ins, outs = operands[1:], operands[0][1:], rhs[1:]
        ops = [params[f"p{k}"] for k in range(len(terms))]
    w = torch.einsum(",".join(terms) + "->" + ins + outs, *ops)
    return w.reshape(module.in_features, module.out_features)


def reference_forward(module, x, params=None):
    params = dict(module.named_parameters()) if params is None else params
    y = x.reshape(-1, module.in_features) @ dense_weight(module, params)
    if "bias" in params:
        y = y + params["bias"]
    return y


LAYERS = {
    "tt": lambda bias: tt.TTLinear((2, 3, 2), (2, 2, 3), (2, 3), bias=bias, dtype=F64, seed=1),
    "cp": lambda bias: tt.CPLinear((3, 4), (2, 5), 3, bias=bias, dtype=F64, seed=2),
    "tucker": lambda bias: tt.TuckerLinear((3, 4), (2, 5), (2, 3, 2, 2), bias=bias, dtype=F64, seed=3),
    "einsum": lambda bias: tt.EinsumLayer("nij,aik,bjk->nab", [(2, 3, 2), (3, 4, 2)], bias=bias,
                                          dtype=F64, seed=4),
    "linear": lambda bias: tt.Linear(6, 5, bias=bias, dtype=F64, seed=5),
    "tcl": lambda bias: tt.TCL((3, 4), (2, 5), bias=bias, dtype=F64, seed=6),
    "tt_tensor": lambda bias: tt.TTTensorLinear((3, 4), (5,), (2, 3), bias=bias, dtype=F64, seed=7),
}


def randomize(module, seed=0):
    """Fresh parameter values (the bias included), written through the torch parameters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, dtype=p.dtype, generator=g) * 0.7)
    return module


@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", list(LAYERS))
def test_layer_values_and_gradcheck(kind, bias):
    m = randomize(LAYERS[kind](bias))
    names = [n for n, _ in m.named_parameters()]
    assert ("bias" in names) == bias
    params = list(m.parameters())
    # (batch, in) and (..., in)
    for shape in [(4, m.in_features), (2, 3, m.in_features)]:
        x = randn(*shape, grad=True, seed=7)
        y = m(x)
        assert y.shape == shape[:-1] + (m.out_features,)
        torch.testing.assert_close(y.reshape(-1, m.out_features), reference_forward(m, x),
                                   rtol=1e-12, atol=1e-12)
        assert gradcheck(lambda x, *p: m(x), (x, *params))
    # (batch, *in_modes) gives (batch, *out_modes)
    if len(m.in_modes) > 1:
        x = randn(3, *m.in_modes, grad=True, seed=8)
        assert m(x).shape == (3, *m.out_modes)
        assert gradcheck(lambda x, *p: m(x), (x, *params))


@pytest.mark.parametrize("kind", list(LAYERS))
def test_parameters_are_the_layers_storage_and_gradients_match_torch(kind):
    m = randomize(LAYERS[kind](True), seed=1)
    arrays = m.layer.parameters()
    for name, p in m.named_parameters():
        assert isinstance(p, torch.nn.Parameter)
        assert p.data_ptr() == arrays[name].__array_interface__["data"][0]
    with torch.no_grad():
        m.bias.add_(1.0)                               # a torch-side write shows in tnswift
    np.testing.assert_array_equal(arrays["bias"], m.bias.detach().numpy())
    arrays["bias"][0] = 5.0                            # and the other way round
    assert m.bias[0].item() == 5.0

    x = randn(5, m.in_features, grad=True, seed=2)
    dy = randn(5, m.out_features, seed=3)
    m(x).backward(dy)
    ref_params = {n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()}
    xr = x.detach().clone().requires_grad_(True)
    reference_forward(m, xr, ref_params).backward(dy)
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-11, atol=1e-12)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p.grad, ref_params[n].grad, rtol=1e-11, atol=1e-12)
    # The torch gradients are copies, not views of the layer's gradient buffers: a second
    # backward (which overwrites those buffers) accumulates to first + second.
    kept = {n: p.grad.clone() for n, p in m.named_parameters()}
    m(randn(5, m.in_features, seed=4)).backward(randn(5, m.out_features, seed=5))
    second = {n: torch.from_numpy(g.copy()) for n, g in m.layer.grads().items()}
    np.testing.assert_allclose(second["bias"], randn(5, m.out_features, seed=5).sum(0).numpy(), rtol=1e-13)
    for n, p in m.named_parameters():
        assert not torch.allclose(second[n], kept[n])
        torch.testing.assert_close(p.grad, kept[n] + second[n], rtol=1e-14, atol=1e-15)


def test_wrap_and_from_dense():
    layer = tnswift.nn.CPLinear((3, 4), (2, 5), 3, dtype=np.float64, seed=1)
    m = tt.wrap(layer)
    assert type(m) is tt.CPLinear and m.layer is layer and m.rank == 3
    with torch.no_grad():
        m.weights.mul_(2)                               # the wrapped layer's own arrays change
    np.testing.assert_array_equal(layer.parameters()["weights"], m.weights.detach().numpy())
    with pytest.raises(ArgumentError, match="TTLinear.wrap takes a tnswift.nn.TTLinear"):
        tt.TTLinear.wrap(layer)
    with pytest.raises(ArgumentError, match="not a tnswift.nn layer"):
        tt.wrap(object())
    w, b = randn(12, 10, seed=2), randn(10, seed=3)     # W is (in, out), as x @ W + b
    d = tt.TTLinear.from_dense(w, b, in_modes=(3, 4), out_modes=(2, 5), rank=100)
    assert d.in_modes == (3, 4) and d.out_modes == (2, 5) and d.ranks == (1, 6, 1)  # full: min(3 * 2, 4 * 5)
    torch.testing.assert_close(d.to_dense(), w, rtol=1e-12, atol=1e-12)
    x = randn(4, 12, seed=4)
    torch.testing.assert_close(d(x), x @ w + b, rtol=1e-12, atol=1e-12)


SQUARE = {
    "tt": lambda: tt.TTLinear((2, 3), (3, 2), 2, dtype=F64, seed=6),
    "cp": lambda: tt.CPLinear((2, 3), (3, 2), 3, dtype=F64, seed=7),
    "tucker": lambda: tt.TuckerLinear((2, 3), (3, 2), 2, dtype=F64, seed=8),
}


@pytest.mark.parametrize("kind", list(SQUARE))
def test_two_forwards_before_backward_and_a_module_used_twice(kind):
    """The tnswift layer caches only its last input; each graph must still get its own."""
    m = randomize(LAYERS[kind](True), seed=2)
    x1, x2 = randn(4, m.in_features, grad=True, seed=1), randn(3, m.in_features, grad=True, seed=2)
    d1, d2 = randn(4, m.out_features, seed=3), randn(3, m.out_features, seed=4)
    params = list(m.parameters())
    y1, y2 = m(x1), m(x2)
    g1 = torch.autograd.grad(y1, [x1, *params], d1, retain_graph=True)  # the older graph first
    g2 = torch.autograd.grad(y2, [x2, *params], d2)
    g1b = torch.autograd.grad(y1, [x1, *params], d1)                    # again, after the other

    def reference_grads(x, d):
        ref = {n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()}
        xr = x.detach().clone().requires_grad_(True)
        return torch.autograd.grad(reference_forward(m, xr, ref), [xr, *ref.values()], d)

    for got, want in ((g1, reference_grads(x1, d1)), (g1b, reference_grads(x1, d1)),
                      (g2, reference_grads(x2, d2))):
        assert len(got) == len(want) == 1 + len(params)
        for a, b in zip(got, want):
            torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)

    # The same (square) module twice in one graph, weight sharing: both uses' gradients add up.
    m = randomize(SQUARE[kind](), seed=3)
    x = randn(4, m.in_features, grad=True, seed=5)
    m(torch.tanh(m(x))).sum().backward()
    ref = {n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()}
    xr = x.detach().clone().requires_grad_(True)
    reference_forward(m, torch.tanh(reference_forward(m, xr, ref)), ref).sum().backward()
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-11, atol=1e-12)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p.grad, ref[n].grad, rtol=1e-11, atol=1e-12)


def test_checkpointed_forward_matches():
    m = randomize(LAYERS["tt"](True), seed=6)
    x = randn(4, m.in_features, grad=True, seed=1)
    y = torch.utils.checkpoint.checkpoint(lambda t: torch.tanh(m(t)).sum(1), x, use_reentrant=False)
    y.sum().backward()
    xr = x.detach().clone().requires_grad_(True)
    torch.tanh(reference_forward(m, xr)).sum().backward()
    torch.testing.assert_close(x.grad, xr.grad, rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- training

def test_adam_training_through_the_bridge_equals_plain_torch():
    model = torch.nn.Sequential(
        tt.TTLinear((3, 4), (2, 4), 3, dtype=F64, seed=1), torch.nn.Tanh(),
        tt.CPLinear((2, 4), (2, 3), 4, dtype=F64, seed=2), torch.nn.Tanh(),
        tt.TuckerLinear((2, 3), (2, 2), 2, dtype=F64, seed=3))
    layers = [model[0], model[2], model[4]]
    ref = [{n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()} for m in layers]
    start = [{n: p.detach().clone() for n, p in m.named_parameters()} for m in layers]

    def reference(x):
        h = torch.tanh(reference_forward(layers[0], x, ref[0]))
        h = torch.tanh(reference_forward(layers[1], h, ref[1]))
        return reference_forward(layers[2], h, ref[2])

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((32, 12)))
    target = torch.from_numpy(rng.standard_normal((32, 4)))
    # lr 1e-3: at 1e-2 this little network's training is chaotic, and two plain-torch runs
    # started 1 ulp apart end 1e-7 apart after 300 steps; at 1e-3 they stay ~1e-15 apart.
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    opt_ref = torch.optim.Adam([p for d in ref for p in d.values()], lr=1e-3)
    losses = []
    for _ in range(300):
        for o, f in ((opt, model), (opt_ref, reference)):
            loss = torch.nn.functional.mse_loss(f(x), target)
            o.zero_grad()
            loss.backward()
            o.step()
            losses.append(loss.item())
    assert losses[-1] < 0.7 * losses[0]                       # it did train
    for m, r, s in zip(layers, ref, start):
        for n, p in m.named_parameters():
            assert not torch.allclose(p, s[n], rtol=1e-3)     # and the parameters moved
            torch.testing.assert_close(p.detach(), r[n].detach(), rtol=1e-9, atol=1e-12)
            np.testing.assert_array_equal(m.layer.parameters()[n], p.detach().numpy())


def test_sgd_with_a_scheduler_updates_the_tnswift_layer():
    m = randomize(LAYERS["tt"](True), seed=4)
    opt = torch.optim.SGD(m.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    x, dy = randn(6, m.in_features, seed=1), randn(6, m.out_features, seed=2)
    lrs = []
    for _ in range(3):
        before = {n: p.detach().clone() for n, p in m.named_parameters()}
        opt.zero_grad()
        m(x).backward(dy)
        grads = {n: p.grad.clone() for n, p in m.named_parameters()}
        lr = opt.param_groups[0]["lr"]
        opt.step()
        sched.step()
        lrs.append(lr)
        for n, arr in m.layer.parameters().items():     # the layer itself moved by -lr * grad
            np.testing.assert_allclose(arr, (before[n] - lr * grads[n]).numpy(), rtol=1e-13, atol=1e-15)
    assert lrs == [0.1, 0.05, 0.025]
    y = m.layer(x.numpy())                              # tnswift's own forward sees the update
    torch.testing.assert_close(torch.from_numpy(y), reference_forward(m, x).detach(), rtol=1e-12, atol=1e-12)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_data_parallel_matches_one_process(tmp_path):
    import torch_bridge_ddp as ddp
    if not torch.distributed.is_available() or not torch.distributed.is_gloo_available():
        pytest.skip("torch.distributed with gloo is not available")
    torch.multiprocessing.spawn(ddp.worker, args=(2, f"tcp://127.0.0.1:{_free_port()}", str(tmp_path)),
                                nprocs=2, join=True)
    single = ddp.build(seed=0)
    start = {k: v.clone() for k, v in single.state_dict().items()}
    ddp.train(single)
    ranks = [torch.load(tmp_path / f"rank{r}.pt", weights_only=False) for r in range(2)]
    for key, want in single.state_dict().items():
        assert not torch.allclose(want, start[key], rtol=1e-3)
        for r in ranks:
            torch.testing.assert_close(r["torch"][key], want, rtol=1e-10, atol=1e-13)
    for r in ranks:  # the tnswift layers hold what the torch parameters hold
        for i, arrays in enumerate(r["tnswift"]):
            for name, arr in arrays.items():
                np.testing.assert_array_equal(arr, r["torch"][f"{2 * i}.{name}"].numpy())


# ---------------------------------------------------------------------------- saving

def test_state_dict_round_trip_and_torch_save():
    a = randomize(LAYERS["tucker"](True), seed=1)
    b = LAYERS["tucker"](True)
    x = randn(3, a.in_features, seed=2)
    assert not torch.allclose(a(x), b(x))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    torch.testing.assert_close(b(x), a(x), rtol=1e-13, atol=1e-14)
    for name, arr in b.layer.parameters().items():     # loaded into the layer's own storage
        np.testing.assert_array_equal(arr, a.layer.parameters()[name])
        assert getattr(b, name).data_ptr() == arr.__array_interface__["data"][0]
    with pytest.raises(RuntimeError, match="size mismatch"):
        LAYERS["tucker"](True).load_state_dict(LAYERS["cp"](True).state_dict(), strict=False)


def test_load_state_dict_with_assign_rebinds_to_the_layer():
    a, b = randomize(LAYERS["cp"](True), seed=1), LAYERS["cp"](True)
    b.load_state_dict({k: v.clone() for k, v in a.state_dict().items()}, assign=True)
    x = randn(3, a.in_features, seed=2)
    torch.testing.assert_close(b(x), a(x), rtol=1e-13, atol=1e-14)
    for name, p in b.named_parameters():
        assert p.data_ptr() == b.layer.parameters()[name].__array_interface__["data"][0]


@pytest.mark.parametrize("kind", list(LAYERS))
def test_whole_module_pickles_and_deepcopies(kind):
    model = torch.nn.Sequential(randomize(LAYERS[kind](True), seed=3), torch.nn.ReLU())
    x = randn(3, model[0].in_features, seed=1)
    buf = io.BytesIO()
    torch.save(model, buf)
    buf.seek(0)
    loaded = torch.load(buf, weights_only=False)
    for other in (loaded, copy.deepcopy(model)):
        layer = other[0]
        assert type(layer) is type(model[0]) and layer.layer is not model[0].layer
        torch.testing.assert_close(other(x), model(x), rtol=1e-13, atol=1e-14)
        for name, p in layer.named_parameters():
            assert p.data_ptr() == layer.layer.parameters()[name].__array_interface__["data"][0]
        with torch.no_grad():
            layer.bias.add_(1.0)                        # the copy is independent and still live
        torch.testing.assert_close(other(x), torch.relu(model[0](x) + 1.0), rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------------------- errors

def test_layer_input_errors():
    m = LAYERS["tt"](True)
    with pytest.raises(DTypeError, match="float32.*float64"):
        m(randn(2, m.in_features, dtype=torch.float32))
    with pytest.raises(DTypeError, match="float16"):
        m(randn(2, m.in_features).half())
    with pytest.raises(DTypeError, match="int64"):
        m(torch.ones(2, m.in_features, dtype=torch.int64))
    with pytest.raises(tt.DeviceError, match="meta"):
        m(torch.empty(2, m.in_features, dtype=F64, device="meta"))
    with pytest.raises(ShapeError, match=f"\\(batch, {m.in_features}\\)"):
        m(randn(2, m.in_features + 1))
    with pytest.raises(TypeError, match="not a torch.Tensor"):
        m(np.ones((2, m.in_features)))
    with pytest.raises(DTypeError):
        tt.TTLinear(8, 8, 2, dtype=torch.float16)


def test_module_conversions_that_would_move_parameters_raise():
    m = randomize(LAYERS["tt"](True), seed=1)
    x = randn(2, m.in_features, seed=2)
    y = m(x)
    with pytest.raises(DTypeError, match="dtype=torch.float32"):
        m.float()
    with pytest.raises(DTypeError):
        m.half()
    with pytest.raises(tt.DeviceError, match="meta"):
        m.to("meta")
    with pytest.raises(ArgumentError, match="shared memory"):
        m.share_memory()
    assert m.double() is m and m.to("cpu") is m         # conversions to where it is are fine
    torch.testing.assert_close(m(x), y, rtol=1e-13, atol=1e-14)
    for name, p in m.named_parameters():                # nothing was moved by the refusals
        assert p.dtype == F64 and p.data_ptr() == m.layer.parameters()[name].__array_interface__["data"][0]


# ---------------------------------------------------------------------------- from_torch

def _mlp(dtype=F64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(16, 24), torch.nn.ReLU(), torch.nn.Linear(24, 12, bias=False),
                               torch.nn.Tanh(), torch.nn.Linear(12, 4)).to(dtype)


def test_from_torch_high_rank_keeps_outputs_and_reports():
    model = _mlp()
    x = randn(5, 16, seed=1)
    new, report = tt.from_torch(model, "tt", rank=1000)
    assert [type(m) for m in new] == [tt.TTLinear, torch.nn.ReLU, tt.TTLinear, torch.nn.Tanh, tt.TTLinear]
    assert all(type(m) is torch.nn.Linear for m in (model[0], model[2], model[4]))  # a copy was changed
    torch.testing.assert_close(new(x), model(x), rtol=1e-10, atol=1e-10)
    assert [r.name for r in report] == ["0", "2", "4"]
    assert [(r.in_features, r.out_features) for r in report] == [(16, 24), (24, 12), (12, 4)]
    assert [r.params_before for r in report] == [16 * 24 + 24, 24 * 12, 12 * 4 + 4]
    assert [r.params_after for r in report] == [new[i].n_params for i in (0, 2, 4)]
    for r in report:
        assert r.compression == pytest.approx(r.params_before / r.params_after)
        assert 0 <= r.rel_error < 1e-12
    assert report.params_before == 16 * 24 + 24 + 24 * 12 + 12 * 4 + 4
    text = str(report)
    assert "total" in text and f"{report.params_before:,}" in text


@pytest.mark.parametrize("fmt,kwargs", [("tt", {"eps": 0.4}), ("cp", {"rank": 3}), ("tucker", {"rank": 2}),
                                        ("tt", {"budget": 120})])
def test_from_torch_truncated_reports_the_true_error(fmt, kwargs):
    model = _mlp()
    new, report = tt.from_torch(model, fmt, **kwargs)
    cls = {"tt": tt.TTLinear, "cp": tt.CPLinear, "tucker": tt.TuckerLinear}[fmt]
    for r, i in zip(report, (0, 2, 4)):
        assert type(new[i]) is cls
        w = model[i].weight.detach().T
        err = (torch.linalg.norm(w - new[i].to_dense()) / torch.linalg.norm(w)).item()
        assert r.rel_error == pytest.approx(err, rel=1e-9, abs=1e-15)
        assert 0 < err < 1
        if "eps" in kwargs:
            assert err <= kwargs["eps"] * (1 + 1e-9)
        if model[i].bias is not None:
            torch.testing.assert_close(new[i].bias, model[i].bias, rtol=0, atol=0)
    if "eps" not in kwargs:  # a random weight has no low-rank structure to find by eps
        assert all(r.compression > 1 for r in report[:2])


def test_from_torch_nested_shared_filtered_float32_and_inplace():
    shared = torch.nn.Linear(8, 8)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = torch.nn.Linear(6, 8)
            self.blocks = torch.nn.ModuleList([torch.nn.Sequential(shared, torch.nn.GELU()),
                                               torch.nn.Sequential(shared, torch.nn.GELU())])
            self.head = torch.nn.Linear(8, 3)

        def forward(self, x):
            x = self.inp(x)
            for b in self.blocks:
                x = b(x)
            return self.head(x)

    torch.manual_seed(1)
    net = Net()
    x = torch.randn(4, 6)
    new, report = tt.from_torch(net, "tt", rank=1000, include=lambda name, lin: name != "head")
    assert [r.name for r in report] == ["inp", "blocks.0.0"]
    assert type(new.head) is torch.nn.Linear
    assert new.blocks[0][0] is new.blocks[1][0] and type(new.blocks[0][0]) is tt.TTLinear
    assert new.inp.layer.dtype == np.float32
    torch.testing.assert_close(new(x), net(x), rtol=1e-4, atol=1e-5)
    # the converted model trains: gradients reach the shared bridged layer
    new(x).sum().backward()
    assert new.blocks[0][0].core_0.grad is not None

    lin = torch.nn.Linear(12, 6).double()
    converted, report = tt.from_torch(lin, "cp", rank=2, inplace=True)
    assert type(converted) is tt.CPLinear and [r.name for r in report] == [""]
    same, _ = tt.from_torch(net, "tucker", rank=2, inplace=True)
    assert same is net and type(net.head) is tt.TuckerLinear


def test_from_torch_errors():
    with pytest.raises(ArgumentError, match="format"):
        tt.from_torch(_mlp(), "svd", rank=2)
    with pytest.raises(ArgumentError, match="exactly one of rank, eps or budget"):
        tt.from_torch(_mlp(), "tt")
    with pytest.raises(ArgumentError, match="linear"):
        tt.from_torch(_mlp(), "linear", rank=3)
    with pytest.raises(DTypeError, match="float16"):
        tt.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 4).half()), "tt", rank=2)
    with pytest.raises(tt.DeviceError):
        tt.from_torch(torch.nn.Sequential(torch.nn.Linear(4, 4, device="meta")), "tt", rank=2)


# ---------------------------------------------------------------------------- to tnswift

def test_to_tnswift_and_export(tmp_path):
    bridged, _ = tt.from_torch(_mlp(), "tt", rank=3)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Sequential(*bridged[:2]), torch.nn.Identity(),
                                *bridged[2:], torch.nn.GELU(), torch.nn.Sigmoid(),
                                tt.Linear(4, 4, dtype=F64), torch.nn.ReLU(), torch.nn.Linear(4, 2).double())
    seq = tt.to_tnswift(model)
    assert isinstance(seq, tnswift.nn.Sequential) and len(seq.stages) == 12
    x = randn(5, 4, 4, seed=3)
    np.testing.assert_allclose(seq(x.numpy()), model(x).detach().numpy(), rtol=1e-12, atol=1e-12)
    # The bridged layers are shared (the plain Linear is copied, so it is frozen here): a torch
    # optimizer step shows in the tnswift model.
    model[-1].requires_grad_(False)
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.5)
    before = seq(x.numpy())
    model(x).sum().backward()
    opt.step()
    after = model(x).detach().numpy()
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(seq(x.numpy()), after, rtol=1e-12, atol=1e-12)
    assert seq.stages[1] is model[1][0].layer

    # Exported, the file loads in tnswift (and so in C and Swift) and computes the same.
    path = tmp_path / "model.safetensors"
    exported = tt.export(model, path)
    assert isinstance(exported, tnswift.nn.Sequential)
    loaded = tnswift.nn.load(path)
    assert [type(s).__name__ for s in loaded.stages] == [type(s).__name__ for s in seq.stages]
    np.testing.assert_allclose(loaded(x.numpy()), model(x).detach().numpy(), rtol=1e-12, atol=1e-12)

    for bad, match in [(torch.nn.Sequential(torch.nn.Conv1d(1, 1, 1)), "Conv1d"),
                       (torch.nn.Sequential(torch.nn.GELU(approximate="tanh")), "approximate"),
                       (torch.nn.Flatten(0), "start_dim"), (torch.nn.Sequential(), "empty")]:
        with pytest.raises(ArgumentError, match=match):
            tt.to_tnswift(bad)


# ---------------------------------------------------------------------------- convolutions

def conv_kernel(module, params=None):
    """K (O, C, kh, kw) contracted with torch.einsum from the documented parameter layouts
    (``params`` defaults to the module's own): CP ``weights`` (R,), factors (mode, R) for the
    output modes, the input modes, kh and kw; Tucker-2 ``core`` (r_out, r_in, kh, kw),
    ``factor_0`` (O, r_out), ``factor_1`` (C, r_in); TT ``core_0`` (kh, kw, r_0) and
    ``core_k`` (r_{k-1}, c_k, o_k, r_k); channel indices are their modes in C order."""
    params = dict(module.named_parameters()) if params is None else params
    if isinstance(module, tt.Conv2d):
        return params["weight"]
    if isinstance(module, tt.CPConv2d):
        outs, ins = OUT[:len(module.out_modes)], IN[:len(module.in_modes)]
        terms = ["R"] + [m + "R" for m in outs + ins + "uv"]
        ops = [params["weights"]] + [params[f"factor_{k}"] for k in range(len(terms) - 1)]
        k = torch.einsum(",".join(terms) + "->" + outs + ins + "uv", *ops)
    elif isinstance(module, tt.TuckerConv2d):
        k = torch.einsum("pquv,Op,Iq->OIuv", params["core"], params["factor_0"], params["factor_1"])
    else:
        d = len(module.in_modes)
        outs, ins = OUT[:d], IN[:d]
        terms = ["uv" + BOND[0]] + [BOND[k] + ins[k] + outs[k] + BOND[k + 1] for k in range(d)]
        ops = [params[f"core_{k}"] for k in range(d + 1)]
        k = torch.einsum(",".join(terms) + "->" + outs + ins + "uv", *ops)
    return k.reshape(module.out_channels, module.in_channels, *module.kernel_size)


def conv_reference(module, x, params=None):
    """torch's conv2d with the kernel rebuilt by conv_kernel (plain torch ops throughout)."""
    params = dict(module.named_parameters()) if params is None else params
    padding = module.padding if isinstance(module.padding, str) else tuple(module.padding)
    return torch.nn.functional.conv2d(x, conv_kernel(module, params), params.get("bias"), stride=module.stride,
                                      padding=padding, dilation=module.dilation)


# (constructor, input shape): stride 1 and 2, padding 1 / "same" / pairs, dilation 2 once.
CONVS = {
    "conv": (lambda bias: tt.Conv2d(2, 3, 3, padding=1, bias=bias, dtype=F64, seed=1), (1, 2, 5, 5)),
    "cp": (lambda bias: tt.CPConv2d(2, (2, 2), 3, 3, stride=2, padding=1, bias=bias, dtype=F64, seed=2),
           (1, 2, 5, 5)),
    "tucker": (lambda bias: tt.TuckerConv2d(2, 3, 3, (2, 2), padding="same", dilation=2, bias=bias, dtype=F64,
                                            seed=3), (1, 2, 5, 5)),
    "tt": (lambda bias: tt.TTConv2d((2, 1), (1, 3), (3, 2), (2, 2), stride=(2, 1), padding=(1, 0), bias=bias,
                                    dtype=F64, seed=4), (1, 2, 5, 5)),
}


@pytest.mark.filterwarnings("ignore:Using padding='same'")
@pytest.mark.parametrize("bias", [True, False], ids=["bias", "nobias"])
@pytest.mark.parametrize("kind", list(CONVS))
def test_conv_values_kernel_and_gradcheck(kind, bias):
    make, shape = CONVS[kind]
    m = randomize(make(bias))
    assert ("bias" in dict(m.named_parameters())) == bias
    # The einsum formula is the layer's kernel, and the output is torch's conv2d with it.
    torch.testing.assert_close(m.to_dense(), conv_kernel(m).detach(), rtol=1e-12, atol=1e-13)
    x = randn(*shape, grad=True, seed=7)
    y = m(x)
    assert y.shape == m.output_shape(shape) and y.dtype == F64
    ref = torch.nn.functional.conv2d(x, m.to_dense(), m.bias if bias else None, stride=m.stride,
                                     padding=m.padding if isinstance(m.padding, str) else m.padding,
                                     dilation=m.dilation)
    torch.testing.assert_close(y, ref, rtol=1e-12, atol=1e-12)
    assert gradcheck(lambda x, *p: m(x), (x, *m.parameters()))


@pytest.mark.parametrize("kind", list(CONVS))
def test_conv_parameters_share_storage_and_gradients_match_torch(kind):
    make, shape = CONVS[kind]
    m = randomize(make(True), seed=1)
    arrays = m.layer.parameters()
    for name, p in m.named_parameters():
        assert p.data_ptr() == arrays[name].__array_interface__["data"][0]
    x = randn(2, *shape[1:], seed=2)
    before = m.layer(x.numpy()).copy()
    first = next(n for n, _ in m.named_parameters())
    with torch.no_grad():
        getattr(m, first).mul_(-2.0)                   # an in-place torch change ...
    after = m.layer(x.numpy())                         # ... changes tnswift's own forward
    assert np.abs(after - before).max() > 1e-3
    np.testing.assert_allclose(after, conv_reference(m, x).detach().numpy(), rtol=1e-12, atol=1e-12)

    xg = x.clone().requires_grad_(True)
    dy = randn(*m.output_shape(x.shape), seed=3)
    m(xg).backward(dy)
    ref = {n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()}
    xr = x.clone().requires_grad_(True)
    conv_reference(m, xr, ref).backward(dy)
    torch.testing.assert_close(xg.grad, xr.grad, rtol=1e-11, atol=1e-12)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p.grad, ref[n].grad, rtol=1e-11, atol=1e-12)
    # Without an input gradient (input_grad=False inside) the parameter gradients are the same.
    m.zero_grad()
    m(x).backward(dy)
    for n, p in m.named_parameters():
        torch.testing.assert_close(p.grad, ref[n].grad, rtol=1e-11, atol=1e-12)


def test_conv_two_forwards_before_backward():
    """A convolution caches its last input (an array, not a tuple): an older graph re-runs."""
    make, shape = CONVS["tt"]
    m = randomize(make(True), seed=2)
    x1, x2 = randn(*shape, grad=True, seed=1), randn(2, *shape[1:], grad=True, seed=2)
    y1, y2 = m(x1), m(x2)
    d1 = randn(*y1.shape, seed=3)
    got = torch.autograd.grad(y1, [x1, *m.parameters()], d1)
    ref = {n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()}
    xr = x1.detach().clone().requires_grad_(True)
    want = torch.autograd.grad(conv_reference(m, xr, ref), [xr, *ref.values()], d1)
    for a, b in zip(got, want):
        torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-12)
    del y2


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_conv_training_through_the_bridge_equals_plain_torch(optimizer):
    model = torch.nn.Sequential(
        tt.CPConv2d(2, (2, 2), 3, 3, padding=1, dtype=F64, seed=1), torch.nn.Tanh(),
        tt.TTConv2d((2, 2), (3, 1), 3, (2, 2), stride=2, padding="valid", dtype=F64, seed=2), torch.nn.Tanh(),
        tt.TuckerConv2d(3, 2, (2, 3), (2, 2), padding=(1, 1), dilation=(1, 2), dtype=F64, seed=3), torch.nn.Tanh(),
        tt.Conv2d(2, 1, 2, dtype=F64, seed=4))
    layers = list(model[::2])
    ref = [{n: p.detach().clone().requires_grad_(True) for n, p in m.named_parameters()} for m in layers]
    start = [{n: p.detach().clone() for n, p in m.named_parameters()} for m in layers]

    def reference(x):
        for i, (m, r) in enumerate(zip(layers, ref)):
            x = conv_reference(m, x, r)
            if i < len(layers) - 1:
                x = torch.tanh(x)
        return x

    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.standard_normal((4, 2, 9, 9)))
    target = torch.from_numpy(rng.standard_normal(tuple(model(x).shape)))
    make = {"sgd": lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
            "adam": lambda p: torch.optim.Adam(p, lr=1e-2)}[optimizer]
    opt, opt_ref = make(model.parameters()), make([p for d in ref for p in d.values()])
    losses = []
    for _ in range(30):
        for o, f in ((opt, model), (opt_ref, reference)):
            loss = torch.nn.functional.mse_loss(f(x), target)
            o.zero_grad()
            loss.backward()
            o.step()
            losses.append(loss.item())
    assert losses[-2] < 0.95 * losses[0]                      # it did train
    for m, r, s in zip(layers, ref, start):
        for n, p in m.named_parameters():
            assert not torch.allclose(p, s[n], rtol=1e-4)     # the parameters moved
            torch.testing.assert_close(p.detach(), r[n].detach(), rtol=1e-9, atol=1e-12)
            np.testing.assert_array_equal(m.layer.parameters()[n], p.detach().numpy())


def _irregular_conv(kind):
    """Convolutions from from_dense (ranks chosen by eps, configured padding kept)."""
    k = randn(6, 4, 3, 3, seed=5)
    b = randn(6, seed=6)
    return {"conv": lambda: tt.Conv2d.from_dense(k, b, padding="same"),
            "cp": lambda: tt.CPConv2d.from_dense(k, b, rank=5, in_modes=(2, 2), out_modes=(3, 2), stride=2),
            "tucker": lambda: tt.TuckerConv2d.from_dense(k, b, eps=0.5, padding=(1, 0)),
            "tt": lambda: tt.TTConv2d.from_dense(k, b, eps=0.3, in_modes=(2, 2), out_modes=(2, 3), dilation=2,
                                                 padding="valid")}[kind]()


@pytest.mark.parametrize("kind", list(CONVS))
def test_conv_state_dict_pickle_and_deepcopy(kind):
    a = randomize(CONVS[kind][0](True), seed=1)
    b = CONVS[kind][0](True)
    x = randn(2, *CONVS[kind][1][1:], seed=2)
    assert not torch.allclose(a(x), b(x))
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    buf.seek(0)
    b.load_state_dict(torch.load(buf, weights_only=True))
    torch.testing.assert_close(b(x), a(x), rtol=1e-13, atol=1e-14)
    for name, arr in b.layer.parameters().items():
        assert getattr(b, name).data_ptr() == arr.__array_interface__["data"][0]

    for source in (a, _irregular_conv(kind)):
        model = torch.nn.Sequential(source, torch.nn.ReLU())
        xs = randn(2, source.in_channels, 7, 6, seed=3)
        buf = io.BytesIO()
        torch.save(model, buf)
        buf.seek(0)
        for other in (torch.load(buf, weights_only=False), copy.deepcopy(model)):
            layer = other[0]
            assert type(layer) is type(source) and layer.layer is not source.layer
            assert repr(layer.layer) == repr(source.layer)   # window, modes, ranks, dtype kept
            torch.testing.assert_close(other(xs), model(xs), rtol=1e-13, atol=1e-14)
            with torch.no_grad():
                layer.bias.add_(1.0)                         # the copy is independent and live
            torch.testing.assert_close(other(xs), torch.relu(source(xs) + 1.0), rtol=1e-12, atol=1e-12)


def test_conv_wrap_from_dense_float32_and_input_errors():
    layer = tnswift.nn.TuckerConv2d(3, 4, 3, 2, padding=1, dtype=np.float32, seed=1)
    m = tt.wrap(layer)
    assert type(m) is tt.TuckerConv2d and m.layer is layer and m.ranks == (2, 2)
    assert (m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation) == \
        (3, 4, (3, 3), (1, 1), (1, 1), (1, 1))
    x = torch.randn(2, 3, 5, 5)
    torch.testing.assert_close(m(x), torch.nn.functional.conv2d(x, m.to_dense(), m.bias, padding=1),
                               rtol=1e-5, atol=1e-5)
    with pytest.raises(ArgumentError, match="CPConv2d.wrap takes a tnswift.nn.CPConv2d"):
        tt.CPConv2d.wrap(layer)
    with pytest.raises(DTypeError, match="float64"):
        m(x.double())
    with pytest.raises(ShapeError, match="channels"):
        m(torch.randn(2, 4, 5, 5))
    with pytest.raises(ShapeError):
        m(torch.randn(3, 5, 5))
    with pytest.raises(tt.DeviceError):
        m(torch.empty(2, 3, 5, 5, device="meta"))
    with pytest.raises(DTypeError, match="build the module with dtype=torch.float64"):
        m.double()


# -- torch.nn.Conv2d conversions

def _cnn(dtype=F64):
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Conv2d(2, 4, 3, padding=1), torch.nn.ReLU(),
                               torch.nn.Conv2d(4, 6, 3, stride=2, bias=False), torch.nn.Flatten(),
                               torch.nn.Linear(6 * 3 * 3, 5)).to(dtype)


@pytest.mark.parametrize("fmt,kwargs,cls", [("tt", {"rank": 1000}, tt.TTConv2d), ("cp", {"rank": 60}, tt.CPConv2d),
                                            ("tucker", {"rank": 1000}, tt.TuckerConv2d),
                                            ("linear", {}, tt.Conv2d)])
def test_from_torch_converts_convolutions(fmt, kwargs, cls):
    model = _cnn()
    x = randn(3, 2, 8, 8, seed=1)
    new, report = tt.from_torch(model, fmt, **kwargs)
    assert [type(m) for m in new][:3] == [cls, torch.nn.ReLU, cls]
    assert type(model[0]) is torch.nn.Conv2d                          # a copy was changed
    assert new[2].stride == (2, 2) and new[0].padding == (1, 1) and not new[2].layer.bias
    torch.testing.assert_close(new(x), model(x), rtol=1e-8, atol=1e-8)
    assert [(r.name, r.kind) for r in report] == [("0", "Conv2d"), ("2", "Conv2d"), ("4", "Linear")]
    assert [(r.in_features, r.out_features) for r in report] == [(2, 4), (4, 6), (54, 5)]
    assert [r.params_before for r in report] == [4 * 2 * 9 + 4, 6 * 4 * 9, 54 * 5 + 5]
    assert [r.params_after for r in report[:2]] == [new[0].n_params, new[2].n_params]
    for r in report:
        assert r.compression == pytest.approx(r.params_before / r.params_after)
        assert 0 <= r.rel_error < 1e-9
    lines = str(report).splitlines()
    assert lines[0].split()[-1] == "kind" and lines[1].split()[-1] == "Conv2d"
    # The converted model trains through the bridged convolutions.
    new(x).sum().backward()
    assert all(p.grad is not None for p in new[0].parameters())


def test_from_torch_truncated_convolutions_options_and_opt_out():
    model = _cnn()
    new, report = tt.from_torch(model, "tt", eps=0.5, conv_options={"order": 1})
    assert new[0].in_modes == (2,) and new[2].in_modes == (4,)
    for r, i in zip(report, (0, 2)):
        k = model[i].weight.detach()
        err = (torch.linalg.norm(k - new[i].to_dense()) / torch.linalg.norm(k)).item()
        assert r.rel_error == pytest.approx(err, rel=1e-9, abs=1e-15) and err <= 0.5 * (1 + 1e-9)
    kept, report = tt.from_torch(model, "cp", rank=2, convolutions=False)
    assert type(kept[0]) is torch.nn.Conv2d and type(kept[4]) is tt.CPLinear
    assert [r.kind for r in report] == ["Linear"]
    assert "kind" not in str(report).splitlines()[0]                    # the linear-only table
    only, report = tt.from_torch(model, "tucker", rank=2, include=lambda name, m: name == "2")
    assert [type(m) for m in only[::2]] == [torch.nn.Conv2d, tt.TuckerConv2d, torch.nn.Linear]
    bare, report = tt.from_torch(model[0], "cp", rank=3)
    assert type(bare) is tt.CPConv2d and report[0].name == ""


def test_from_conv_and_from_torch_errors():
    with pytest.raises(ArgumentError, match="groups=2"):
        tt.CPConv2d.from_conv(torch.nn.Conv2d(4, 4, 3, groups=2).double(), rank=2)
    with pytest.raises(ArgumentError, match="padding_mode='reflect'"):
        tt.TTConv2d.from_conv(torch.nn.Conv2d(4, 4, 3, padding=1, padding_mode="reflect").double(), rank=2)
    with pytest.raises(ArgumentError, match="from_conv takes a torch.nn.Conv2d"):
        tt.Conv2d.from_conv(torch.nn.Linear(3, 3))
    with pytest.raises(ArgumentError, match="stride"):
        tt.Conv2d.from_conv(torch.nn.Conv2d(2, 2, 3), stride=2)
    with pytest.raises(DTypeError, match="float16"):
        tt.Conv2d.from_conv(torch.nn.Conv2d(2, 2, 3).half())
    grouped = torch.nn.Sequential(torch.nn.Conv2d(4, 4, 3, groups=4), torch.nn.Flatten(), torch.nn.Linear(4, 2))
    with pytest.raises(ArgumentError, match="groups=4"):
        tt.from_torch(grouped, "tt", rank=2)
    model = _cnn()
    with pytest.raises(ArgumentError, match="budget is not supported for convolutions"):
        tt.from_torch(model, "tt", budget=100, inplace=True)
    assert type(model[0]) is torch.nn.Conv2d and type(model[4]) is torch.nn.Linear  # nothing replaced
    new, _ = tt.from_torch(model, "tt", budget=100, convolutions=False)
    assert type(new[4]) is tt.TTLinear
    with pytest.raises(ArgumentError, match="conv_options must be a dict"):
        tt.from_torch(model, "tt", rank=2, conv_options=3)


def test_to_tnswift_with_convolutions_and_export_refuses_them(tmp_path):
    torch.manual_seed(2)
    model = torch.nn.Sequential(randomize(tt.CPConv2d(2, 4, 3, 3, padding="same", dtype=F64), seed=1),
                                torch.nn.ReLU(), torch.nn.Conv2d(4, 3, 3, stride=2, dilation=(1, 2)).double(),
                                torch.nn.Tanh(), torch.nn.Flatten(), torch.nn.Linear(3 * 3 * 2, 4).double())
    seq = tt.to_tnswift(model)
    assert [type(s).__name__ for s in seq.stages] == ["CPConv2d", "ReLU", "Conv2d", "Tanh", "Flatten", "Linear"]
    assert seq.stages[0] is model[0].layer and seq.stages[2].dilation == (1, 2)
    x = randn(2, 2, 8, 8, seed=3)
    np.testing.assert_allclose(seq(x.numpy()), model(x).detach().numpy(), rtol=1e-12, atol=1e-12)
    with pytest.raises(ArgumentError, match="groups=2"):
        tt.to_tnswift(torch.nn.Sequential(torch.nn.Conv2d(2, 2, 3, groups=2)))
    path = tmp_path / "cnn.safetensors"
    with pytest.raises(ArgumentError, match="model files hold linear layers only") as info:
        tt.export(model, path)
    assert "stage 0 (CPConv2d), stage 2 (Conv2d)" in str(info.value)
    assert not path.exists()
    with pytest.raises(ArgumentError, match="stage 0 \\(CPConv2d\\) cannot be saved: model files hold linear"):
        seq.save(path)                                 # tnswift's own save says the same


# ---------------------------------------------------------------------------- embeddings

def _table_torch(cores):
    """The TT embedding table from torch cores with torch ops (autograd flows to the cores)."""
    d = len(cores)
    t = cores[0][0]                                   # (v1, d1, r1)
    for k in range(1, d):
        t = torch.einsum("vdr,rwes->vwdes", t, cores[k])
        v, w, d1, e, s = t.shape
        t = t.reshape(v * w, d1 * e, s)
    return t[..., 0]


@pytest.mark.parametrize("mode", [None, "sum", "mean"])
def test_embedding_gradcheck_and_values_against_torch_ops(mode):
    m = tt.TTEmbedding(23, 6, rank=[3, 2], n_modes=3, row_modes=(2, 3, 4), col_modes=(1, 2, 3), padding_idx=5,
                       mode=mode, dtype=F64)
    for p in m.parameters():
        with torch.no_grad():
            p.copy_(randn(*p.shape, seed=p.numel()))
    idx = torch.tensor([[5, 1, 22], [7, 7, 0]])
    table = _table_torch(list(m.parameters()))[:23].clone()
    table[5] = 0
    if mode is None:
        ref = torch.nn.functional.embedding(idx, table)
    else:
        keep = (idx != 5).double().unsqueeze(-1)
        ref = (torch.nn.functional.embedding(idx, table) * keep).sum(1)
        if mode == "mean":
            ref = ref / keep.sum(1).clamp(min=1)
    np.testing.assert_allclose(m(idx).detach().numpy(), ref.detach().numpy(), rtol=1e-12, atol=1e-13)
    params = list(m.parameters())
    assert gradcheck(lambda *ps: tt._EmbeddingFunction.apply(m, idx.numpy(), None, *ps), params)
    # gradients equal those of the torch-op table
    dy = randn(*ref.shape, seed=9)
    grads = torch.autograd.grad(m(idx), params, dy)
    p2 = [p.detach().clone().requires_grad_(True) for p in params]
    t2 = _table_torch(p2)[:23].clone()
    t2[5] = 0
    y2 = torch.nn.functional.embedding(idx, t2)
    if mode is not None:
        keep = (idx != 5).double().unsqueeze(-1)
        y2 = (y2 * keep).sum(1) / (keep.sum(1).clamp(min=1) if mode == "mean" else 1)
    for g, h in zip(grads, torch.autograd.grad(y2, p2, dy)):
        np.testing.assert_allclose(g.numpy(), h.numpy(), rtol=1e-10, atol=1e-12)


def test_embedding_training_equals_plain_torch_and_from_torch():
    torch.manual_seed(0)
    emb = torch.nn.Embedding(30, 8, padding_idx=0).double()
    model = torch.nn.Sequential(emb, torch.nn.Flatten(), torch.nn.Linear(16, 3).double())
    new, report = tt.from_torch(model, "tt", rank=30, embedding_options={"n_modes": 2})
    assert type(new[0]) is tt.TTEmbedding and type(new[2]) is tt.TTLinear
    assert [r.kind for r in report] == ["Embedding", "Linear"] and report[0].rel_error < 1e-10
    assert new[0].padding_idx == 0
    x = torch.tensor([[0, 3], [29, 3], [4, 0]])
    np.testing.assert_allclose(new(x).detach().numpy(), model(x).detach().numpy(), rtol=1e-9, atol=1e-10)
    # A few SGD steps through the bridge equal the same steps on the table rebuilt with torch ops.
    bridged = tt.TTEmbedding(12, 4, rank=2, n_modes=2, row_modes=(3, 4), col_modes=(2, 2), dtype=F64, seed=3)
    plain = [p.detach().clone().requires_grad_(True) for p in bridged.parameters()]
    opt1 = torch.optim.SGD(bridged.parameters(), lr=0.1)
    opt2 = torch.optim.SGD(plain, lr=0.1)
    target = randn(5, 4, seed=4)
    for step in range(20):
        idx = torch.tensor([(step * 7 + j) % 12 for j in range(5)])
        for opt, y in ((opt1, bridged(idx)), (opt2, torch.nn.functional.embedding(idx, _table_torch(plain)))):
            opt.zero_grad()
            ((y - target) ** 2).sum().backward()
            opt.step()
    for p, q in zip(bridged.parameters(), plain):
        np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-10, atol=1e-12)


def test_embedding_pickle_state_dict_bags_and_errors():
    m = tt.TTEmbedding(40, 6, rank=3, mode="mean", dtype=F64, seed=1)
    clone = copy.deepcopy(m)
    idx, off = torch.tensor([1, 2, 39, 7]), torch.tensor([0, 2])
    np.testing.assert_allclose(clone(idx, off).detach().numpy(), m(idx, off).detach().numpy(), rtol=0, atol=0)
    buf = io.BytesIO()
    torch.save(m.state_dict(), buf)
    other = tt.TTEmbedding(40, 6, rank=3, mode="mean", dtype=F64, seed=2)
    buf.seek(0)
    other.load_state_dict(torch.load(buf))
    np.testing.assert_allclose(other(idx, off).detach().numpy(), m(idx, off).detach().numpy(), rtol=0, atol=0)
    bag = torch.nn.EmbeddingBag(40, 6, mode="sum").double()
    conv = tt.TTEmbedding.from_embedding(bag, eps=1e-10)
    np.testing.assert_allclose(conv(idx, off).detach().numpy(), bag(idx, off).detach().numpy(), rtol=1e-8, atol=1e-9)
    with pytest.raises(DTypeError, match="integers"):
        m(torch.tensor([0.5]), torch.tensor([0]))
    with pytest.raises(ValueError, match="out of range"):
        tt.TTEmbedding(10, 4, rank=2)(torch.tensor([10]))
    with pytest.raises(ArgumentError, match="max"):
        tt.TTEmbedding.from_embedding(torch.nn.EmbeddingBag(10, 4, mode="max"), rank=2)
    with pytest.raises(ArgumentError, match="max_norm"):
        tt.TTEmbedding.from_embedding(torch.nn.Embedding(10, 4, max_norm=1.0), rank=2)
    with pytest.raises(ArgumentError, match="budget is not supported"):
        tt.from_torch(torch.nn.Sequential(torch.nn.Embedding(10, 4)), budget=50)
    with pytest.raises(ArgumentError, match="embeddings stay torch modules"):
        tt.to_tnswift(torch.nn.Sequential(tt.TTEmbedding(10, 4, rank=2)))
    kept, report = tt.from_torch(torch.nn.Sequential(torch.nn.Embedding(10, 4)), rank=2, embeddings=False)
    assert type(kept[0]) is torch.nn.Embedding and len(report) == 0
