"""PyTorch bridge: tnswift's contraction engine and factorized layers inside torch autograd.

- :func:`einsum` — ``torch.einsum`` on CPU float32/float64 tensors, run by tnswift's compiled
  plans (forward and every operand's gradient), zero-copy through NumPy views.
- :class:`TTLinear`, :class:`CPLinear`, :class:`TuckerLinear`, :class:`EinsumLayer`,
  :class:`Linear` — ``torch.nn.Module`` versions of the :mod:`tnswift.nn` layers. Their
  ``torch.nn.Parameter`` s *are* the tnswift layer's storage, so torch optimizers, schedulers,
  ``state_dict`` / ``load_state_dict``, ``torch.save``, ``copy.deepcopy`` and
  ``DistributedDataParallel`` work on them unchanged.
- :func:`from_torch` — replaces every ``torch.nn.Linear`` of a model by a factorized layer
  (TT-SVD, CP-ALS or Tucker of its weight) and reports the compression and error per layer.
- :func:`to_tnswift` / :func:`export` — a ``torch.nn.Sequential`` of bridged layers and
  activations as a :class:`tnswift.nn.Sequential` (sharing the parameters), and saved as a
  tnswift model file that C and Swift load.

Only CPU tensors of float32 or float64 are accepted; anything else raises (``DTypeError``,
``DeviceError``) with a pointer to the torch equivalent. Nothing is cast silently.
``import tnswift`` does not import this module (nor torch).
"""

import copy
import functools
import threading
from typing import NamedTuple

import numpy as np

try:
    import torch
except ImportError as _exc:  # pragma: no cover - depends on the environment
    raise ImportError("tnswift.torch needs PyTorch, which is not installed: run `pip install torch` "
                      f"(import failed with: {_exc})") from _exc

from . import nn as _tn
from ._ext import ArgumentError, DTypeError, ShapeError
from .expression import contract_expression

__all__ = [
    "einsum",
    "TTLinear",
    "CPLinear",
    "TuckerLinear",
    "EinsumLayer",
    "Linear",
    "wrap",
    "from_torch",
    "LayerReport",
    "ConversionReport",
    "to_tnswift",
    "export",
    "DeviceError",
]


class DeviceError(ArgumentError):
    """A tensor (or a module conversion) on a device other than the CPU."""


_NP_DTYPES = {torch.float32: np.dtype(np.float32), torch.float64: np.dtype(np.float64)}
_TORCH_DTYPES = {v: k for k, v in _NP_DTYPES.items()}


# ---------------------------------------------------------------------------- tensor checks

def _check_tensor(name, t, what):
    """The NumPy dtype of a CPU float32/float64 tensor; raises otherwise. ``what`` names the
    torch function that handles the rejected cases."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} is {type(t).__name__}, not a torch.Tensor "
                        "(tnswift.einsum and tnswift.nn take NumPy arrays)")
    if t.device.type != "cpu":
        raise DeviceError(f"{name} is on device '{t.device}'; tnswift runs on the CPU only: "
                          f"move it with .cpu() or use {what}")
    if t.layout is not torch.strided:
        raise ArgumentError(f"{name} has layout {t.layout}; tnswift takes dense (strided) tensors: "
                            f"convert it with .to_dense() or use {what}")
    dt = _NP_DTYPES.get(t.dtype)
    if dt is None:
        raise DTypeError(f"{name} has dtype {t.dtype}; tnswift takes float32 or float64 tensors only "
                         f"(convert with .float() / .double(), or use {what})")
    return dt


def _first_order_only():
    # Grad mode is on inside backward exactly when create_graph=True. The engine's gradients
    # are not differentiable, and returning them as constants would make second derivatives
    # silently wrong (torch's once_differentiable raises only when dy itself needs a grad).
    if torch.is_grad_enabled():
        raise NotImplementedError("tnswift.torch gives first-order gradients only (backward with "
                                  "create_graph=True); use torch.einsum / plain torch layers where "
                                  "second derivatives are needed")


def _view(t):
    """A NumPy array over t's memory (no copy unless t is not contiguous) and the tensor that
    owns that memory (kept alive by the caller)."""
    t = t.detach()
    if not t.is_contiguous():
        t = t.contiguous()
    return t.numpy(), t


def _np_dtype(dtype):
    """torch.float32/float64 (or a NumPy dtype / name of one) as a NumPy dtype."""
    if isinstance(dtype, torch.dtype):
        if dtype not in _NP_DTYPES:
            raise DTypeError(f"dtype must be torch.float32 or torch.float64, not {dtype}")
        return _NP_DTYPES[dtype]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        raise DTypeError(f"dtype must be torch.float32 or torch.float64, not {dtype!r}") from None
    if dt not in _TORCH_DTYPES:
        raise DTypeError(f"dtype must be torch.float32 or torch.float64, not {dt}")
    return dt


# ---------------------------------------------------------------------------- einsum

@functools.lru_cache(maxsize=256)
def _expression(eq, shapes, dtype, optimize, memory_limit):
    return contract_expression(eq, *shapes, dtype=dtype, optimize=optimize, memory_limit=memory_limit)


class _Einsum(torch.autograd.Function):
    @staticmethod
    def forward(ctx, expr, *operands):
        views = [_view(t) for t in operands]
        arrays = [a for a, _ in views]
        y = expr(*arrays)
        ctx.expr = expr
        ctx.arrays = arrays
        ctx.owners = [o for _, o in views]  # keep contiguous copies alive for backward
        ctx.save_for_backward(*operands)  # so an in-place change before backward raises
        return torch.from_numpy(y)

    @staticmethod
    def backward(ctx, dy):
        _first_order_only()
        ctx.saved_tensors  # noqa: B018 - raises if an operand was modified in place
        wanted = [i for i, need in enumerate(ctx.needs_input_grad[1:]) if need]
        if not wanted:
            return (None,) * (1 + len(ctx.arrays))
        dy_np, _ = _view(dy)
        grads = ctx.expr.backward(dy_np, *ctx.arrays, wrt=wanted)
        return (None,) + tuple(None if g is None else torch.from_numpy(g) for g in grads)


def einsum(equation, *operands, optimize="auto", memory_limit=None):
    """``torch.einsum(equation, *operands)`` computed by tnswift, differentiable in every operand.

    Operands are CPU tensors, all float32 or all float64 (also accepted as one list, as
    ``torch.einsum`` does); the equation follows NumPy's grammar (``->``, implicit output,
    ``...`` broadcasting, repeated labels). Contiguous tensors are read in place; others are
    made contiguous first. The compiled plan is cached per (equation, shapes, dtype, options)
    (LRU, 256 entries). Other devices and dtypes raise: use ``torch.einsum`` for them.
    """
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not isinstance(equation, str):
        raise ArgumentError(f"equation must be a str, not {type(equation).__name__} "
                            "(the sublist form is not supported; use torch.einsum)")
    if not operands:
        raise ArgumentError("einsum needs at least one operand")
    dtypes = [_check_tensor(f"operand {i}", t, "torch.einsum") for i, t in enumerate(operands)]
    if any(d != dtypes[0] for d in dtypes):
        raise DTypeError("operands mix " + " and ".join(sorted({str(d) for d in dtypes}))
                         + "; tnswift never casts silently: convert them to one dtype "
                           "(torch.einsum also requires one)")
    eq = equation.replace(" ", "")
    expr = _expression(eq, tuple(tuple(t.shape) for t in operands), dtypes[0].name, optimize, memory_limit)
    return _Einsum.apply(expr, *operands)


# ---------------------------------------------------------------------------- layers

def _cached_input_is(layer, x):
    """Whether the layer's forward cache holds exactly ``x`` (then its backward is for x).
    If the cache's form is unknown this says no, and the caller re-runs the forward."""
    cached = getattr(layer, "_x", None)
    return isinstance(cached, tuple) and len(cached) > 0 and cached[0] is x


class _LayerFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, module, x, *params):
        x_np, owner = _view(x)
        layer = module.layer
        with module._lock:
            y = layer(x_np)
        ctx.module = module
        ctx.x = (x_np, owner)
        ctx.save_for_backward(x, *params)  # torch's in-place checks cover x and the parameters
        return torch.from_numpy(y)

    @staticmethod
    def backward(ctx, dy):
        _first_order_only()
        ctx.saved_tensors  # noqa: B018 - raises if x or a parameter changed in place since forward
        module = ctx.module
        layer = module.layer
        x_np = ctx.x[0]
        dy_np, _ = _view(dy)
        needs = ctx.needs_input_grad
        with module._lock:
            # The layer keeps only its last forward's input; another forward since this
            # graph's (the module applied twice, gradient checkpointing, ...) means ours
            # must run again first.
            if not _cached_input_is(layer, x_np):
                layer(x_np)
            dx = layer.backward(dy_np, input_grad=needs[1])
            grads = layer.grads()
            # Copies: the layer overwrites its gradient buffers in its next backward.
            out = [torch.from_numpy(grads[name].copy()) if need else None
                   for name, need in zip(module._names, needs[2:])]
        return (None, torch.from_numpy(dx) if needs[1] else None, *out)


_SPEC_KEYS = {
    "Linear": lambda l: {"in_features": l.in_features, "out_features": l.out_features},
    "TTLinear": lambda l: {"in_features": list(l.in_modes), "out_features": list(l.out_modes),
                           "rank": list(l.ranks)},
    "CPLinear": lambda l: {"in_features": list(l.in_modes), "out_features": list(l.out_modes),
                           "rank": l.rank},
    "TuckerLinear": lambda l: {"in_features": list(l.in_modes), "out_features": list(l.out_modes),
                               "rank": list(l.ranks)},
    "EinsumLayer": lambda l: {"equation": l.equation, "param_shapes": [list(s) for s in l.param_shapes]},
}


def _spec(layer):
    """What rebuilds a layer of the same structure (values are restored separately)."""
    name = type(layer).__name__
    spec = _SPEC_KEYS[name](layer)
    spec.update(bias=layer.bias, dtype=layer.dtype.name)
    return name, spec


class _Bridge(torch.nn.Module):
    """A tnswift layer as a torch module; subclasses only name the tnswift class."""

    _tn_class = None

    def __init__(self, *args, dtype=torch.float32, **kwargs):
        super().__init__()
        self._bind(self._tn_class(*args, dtype=_np_dtype(dtype), **kwargs))

    # -- construction from an existing tnswift layer or a weight

    @classmethod
    def wrap(cls, layer):
        """The module around an existing tnswift layer (sharing its parameters)."""
        if not isinstance(layer, cls._tn_class):
            raise ArgumentError(f"{cls.__name__}.wrap takes a tnswift.nn.{cls._tn_class.__name__}, "
                                f"not {type(layer).__name__}")
        module = cls.__new__(cls)
        torch.nn.Module.__init__(module)
        module._bind(layer)
        return module

    @classmethod
    def from_dense(cls, weight, bias=None, **kwargs):
        """The tnswift layer's ``from_dense`` on ``weight`` (in_features, out_features) — the
        transpose of ``torch.nn.Linear.weight`` — and ``bias``; tensors or arrays."""
        return cls.wrap(cls._tn_class.from_dense(np.ascontiguousarray(_as_array(weight, "weight")),
                                                 None if bias is None else _as_array(bias, "bias"),
                                                 **kwargs))

    @classmethod
    def from_linear(cls, linear, **kwargs):
        """The factorized form of a ``torch.nn.Linear`` (its weight and bias), by ``from_dense``."""
        if not isinstance(linear, torch.nn.Linear):
            raise ArgumentError(f"from_linear takes a torch.nn.Linear, not {type(linear).__name__}")
        _check_tensor("the Linear's weight", linear.weight, "a plain torch.nn.Linear")
        w = linear.weight.detach().numpy().T
        b = None if linear.bias is None else linear.bias.detach().numpy()
        module = cls.from_dense(w, b, **kwargs)
        for p in module.parameters():
            p.requires_grad_(linear.weight.requires_grad)
        module.train(linear.training)
        return module

    def _bind(self, layer, adopt=False):
        """Points the torch parameters at the layer's arrays. With ``adopt`` the module's
        existing parameters (e.g. just unpickled) keep their objects and give their values
        to the layer."""
        self.layer = layer
        self._lock = threading.Lock()
        arrays = layer.parameters()
        self._names = tuple(arrays)
        self._arrays = arrays
        self._ptrs = {}
        for name, arr in arrays.items():
            shared = torch.from_numpy(arr)
            if adopt:
                p = self._parameters[name]
                if tuple(p.shape) != arr.shape:
                    raise ShapeError(f"parameter {name!r} has shape {tuple(p.shape)} but the rebuilt "
                                     f"layer's is {arr.shape}")
                with torch.no_grad():
                    shared.copy_(p)
                p.data = shared
            else:
                self.register_parameter(name, torch.nn.Parameter(shared))
            self._ptrs[name] = shared.data_ptr()

    def _synced_parameters(self):
        """The parameters, after making sure each still views the layer's storage. One that
        was rebound (``load_state_dict(assign=True)``, ``p.data = ...``) gives its values to
        the layer and is pointed back at it."""
        params = []
        for name in self._names:
            p = self._parameters.get(name)
            if p is None:
                raise ArgumentError(f"parameter {name!r} of {type(self).__name__} was removed")
            if p.data_ptr() != self._ptrs[name]:
                arr = self._arrays[name]
                _check_tensor(f"parameter {name!r}", p, "a plain torch module")
                if p.dtype != _TORCH_DTYPES[arr.dtype]:
                    raise DTypeError(f"parameter {name!r} is now {p.dtype} but the layer is {arr.dtype}; "
                                     "build the module with dtype=torch.float64 (or float32) instead")
                if tuple(p.shape) != arr.shape:
                    raise ShapeError(f"parameter {name!r} now has shape {tuple(p.shape)}; the layer's is {arr.shape}")
                with torch.no_grad():
                    arr[...] = p.detach().numpy()
                    p.data = torch.from_numpy(arr)
            params.append(p)
        return params

    # -- torch.nn.Module

    def forward(self, x):
        """``x @ W + b`` for x of shape (batch, in_features), (..., in_features) or
        (batch, *in_modes), a CPU tensor of the layer's dtype."""
        dt = _check_tensor("x", x, "a plain torch layer")
        if dt != self.layer.dtype:
            raise DTypeError(f"x has dtype {x.dtype} but the layer is {_TORCH_DTYPES[self.layer.dtype]}; "
                             f"convert x or build the layer with dtype={x.dtype}")
        return _LayerFunction.apply(self, x, *self._synced_parameters())

    def _apply(self, fn, recurse=True):
        # .to()/.double()/.cuda() would move the parameters off the layer's storage; allow
        # only conversions that leave them where they are.
        with torch.no_grad():
            for name, p in self._parameters.items():
                q = fn(p)
                if q.data_ptr() == p.data_ptr() and q.dtype == p.dtype and q.device == p.device:
                    continue
                if q.device != p.device:
                    raise DeviceError(f"{type(self).__name__} cannot move to {q.device}: its parameters "
                                      "live in the tnswift layer on the CPU")
                raise DTypeError(f"{type(self).__name__} cannot convert its parameters to {q.dtype}: they "
                                 f"live in the tnswift layer ({p.dtype}); build the module with "
                                 f"dtype={q.dtype} instead")
        return super()._apply(fn, recurse)

    def share_memory(self):
        raise ArgumentError(f"{type(self).__name__}'s parameters live in tnswift memory, which cannot be "
                            "moved into shared memory; build the module in each process instead")

    def __getstate__(self):
        self._synced_parameters()
        state = super().__getstate__()
        for key in ("layer", "_lock", "_arrays", "_ptrs"):
            state.pop(key, None)
        state["_tn_spec"] = _spec(self.layer)
        return state

    def __setstate__(self, state):
        state = dict(state)
        name, spec = state.pop("_tn_spec")
        super().__setstate__(state)
        self._bind(getattr(_tn, name)(**spec), adopt=True)

    def extra_repr(self):
        text = repr(self.layer)  # "TTLinear(in_modes=..., ...)": keep what is inside the parentheses
        return text[text.index("(") + 1:-1]

    # -- what the tnswift layer knows

    in_features = property(lambda self: self.layer.in_features)
    out_features = property(lambda self: self.layer.out_features)
    in_modes = property(lambda self: self.layer.in_modes)
    out_modes = property(lambda self: self.layer.out_modes)
    n_params = property(lambda self: self.layer.n_params, doc="Parameters, bias included.")
    compression = property(lambda self: self.layer.compression,
                           doc="Parameters of a dense layer (bias included) over n_params.")

    def to_dense(self):
        """W (in_features, out_features) as a new tensor (the transpose of a Linear's weight)."""
        self._synced_parameters()
        with self._lock:
            return torch.from_numpy(self.layer.to_dense())

    def plan_report(self, batch):
        """The tnswift layer's forward plan for ``batch`` rows."""
        return self.layer.plan_report(batch)


def _as_array(value, name):
    if isinstance(value, torch.Tensor):
        _check_tensor(name, value, "a plain torch layer")
        return value.detach().numpy()
    return value


class Linear(_Bridge):
    """``tnswift.nn.Linear`` as a torch module (parameter "weight" is (in, out), unlike torch's)."""
    _tn_class = _tn.Linear

    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32, seed=0):
        super().__init__(in_features, out_features, bias=bias, dtype=dtype, seed=seed)


class TTLinear(_Bridge):
    """``tnswift.nn.TTLinear`` as a torch module: parameters "core_0", ..., "bias"."""
    _tn_class = _tn.TTLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    @property
    def ranks(self):
        return self.layer.ranks


class CPLinear(_Bridge):
    """``tnswift.nn.CPLinear`` as a torch module: "weights", "factor_0", ..., "bias"."""
    _tn_class = _tn.CPLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    @property
    def rank(self):
        return self.layer.rank


class TuckerLinear(_Bridge):
    """``tnswift.nn.TuckerLinear`` as a torch module: "core", "factor_0", ..., "bias"."""
    _tn_class = _tn.TuckerLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    @property
    def ranks(self):
        return self.layer.ranks


class EinsumLayer(_Bridge):
    """``tnswift.nn.EinsumLayer`` as a torch module: "p0", "p1", ..., "bias"."""
    _tn_class = _tn.EinsumLayer

    def __init__(self, equation, param_shapes, bias=True, dtype=torch.float32, seed=0):
        super().__init__(equation, param_shapes, bias=bias, dtype=dtype, seed=seed)

    @property
    def equation(self):
        return self.layer.equation


_BRIDGES = {c._tn_class: c for c in (Linear, TTLinear, CPLinear, TuckerLinear, EinsumLayer)}


def wrap(layer):
    """The bridged module for a :mod:`tnswift.nn` layer (sharing its parameters)."""
    cls = _BRIDGES.get(type(layer))
    if cls is None:
        raise ArgumentError(f"{type(layer).__name__} is not a tnswift.nn layer "
                            f"({', '.join(c.__name__ for c in _BRIDGES)})")
    return cls.wrap(layer)


# ---------------------------------------------------------------------------- from_torch

class LayerReport(NamedTuple):
    """One replaced ``torch.nn.Linear``: parameter counts include the bias; ``compression``
    is params_before / params_after; ``rel_error`` is ||W - W_hat||_F / ||W||_F."""
    name: str
    in_features: int
    out_features: int
    params_before: int
    params_after: int
    compression: float
    rel_error: float


class ConversionReport(list):
    """The :class:`LayerReport` of every replaced layer, in model order; ``str()`` is a table."""

    @property
    def params_before(self):
        return sum(r.params_before for r in self)

    @property
    def params_after(self):
        return sum(r.params_after for r in self)

    def __str__(self):
        head = ("layer", "in", "out", "params", "factorized", "compression", "rel. error")
        rows = [(r.name or "(model)", str(r.in_features), str(r.out_features), f"{r.params_before:,}",
                 f"{r.params_after:,}", f"{r.compression:.2f}x", f"{r.rel_error:.3e}") for r in self]
        if self:
            total = self.params_before / max(self.params_after, 1)
            rows.append(("total", "", "", f"{self.params_before:,}", f"{self.params_after:,}",
                         f"{total:.2f}x", ""))
        widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(line, widths)))
                         for line in [head] + rows)


_FORMATS = {"tt": TTLinear, "cp": CPLinear, "tucker": TuckerLinear, "linear": Linear}


def from_torch(module, format="tt", *, rank=None, eps=None, budget=None, include=None, inplace=False,
               **options):
    """Replaces every ``torch.nn.Linear`` in ``module`` (recursively) by a factorized layer.

    ``format`` is "tt", "cp", "tucker" (or "linear": the same dense weight in tnswift);
    exactly one of ``rank``, ``eps`` or ``budget`` goes to the tnswift layer's ``from_dense``
    (none for "linear"), with ``options`` (``order``, ``in_modes``, ``out_modes``,
    ``n_iter_max``, ...). ``include(name, linear) -> bool`` selects layers (default: all).
    Only exact ``torch.nn.Linear`` instances are replaced, not subclasses (attention's output
    projection is read by its parent, not called). A Linear used at several places is
    replaced by one shared module.

    Returns ``(model, report)``: a modified deep copy (``inplace=True``: ``module`` itself;
    a bare Linear is returned replaced) and a :class:`ConversionReport`.
    """
    if format not in _FORMATS:
        raise ArgumentError(f"format must be one of {', '.join(map(repr, _FORMATS))}, not {format!r}")
    cls = _FORMATS[format]
    if not isinstance(module, torch.nn.Module):
        raise ArgumentError(f"from_torch takes a torch.nn.Module, not {type(module).__name__}")
    kwargs = dict(options)
    if format != "linear":
        kwargs.update({k: v for k, v in (("rank", rank), ("eps", eps), ("budget", budget)) if v is not None})
    elif rank is not None or eps is not None or budget is not None:
        raise ArgumentError("format='linear' keeps the dense weight: rank, eps and budget do not apply")
    model = module if inplace else copy.deepcopy(module)
    report = ConversionReport()
    done = {}  # id(Linear) -> its replacement

    def convert(name, linear):
        if id(linear) not in done:
            new = cls.from_linear(linear, **kwargs)
            w = linear.weight.detach().numpy().T.astype(np.float64)
            err = np.linalg.norm(w - new.layer.to_dense().astype(np.float64))
            norm = np.linalg.norm(w)
            before = linear.weight.numel() + (0 if linear.bias is None else linear.bias.numel())
            report.append(LayerReport(name, linear.in_features, linear.out_features, before, new.n_params,
                                      before / new.n_params, float(err / norm) if norm > 0 else float(err)))
            done[id(linear)] = (linear, new)  # the Linear stays referenced, so its id stays unique
        return done[id(linear)][1]

    def wanted(name, m):
        return type(m) is torch.nn.Linear and (include is None or include(name, m))

    if wanted("", model):
        return convert("", model), report
    for parent_name, parent in list(model.named_modules(remove_duplicate=False)):
        for child_name, child in list(parent._modules.items()):
            name = f"{parent_name}.{child_name}" if parent_name else child_name
            if child is not None and (id(child) in done or wanted(name, child)):
                setattr(parent, child_name, convert(name, child))
    return model, report


# ---------------------------------------------------------------------------- to tnswift

def _stages(model, prefix):
    if isinstance(model, torch.nn.Sequential):
        out = []
        for name, child in model._modules.items():  # named_children() would skip a repeated module
            out += _stages(child, f"{prefix}{name}.")
        return out
    where = prefix[:-1] or "the model"
    if isinstance(model, _Bridge):
        model._synced_parameters()
        return [model.layer]
    if type(model) is torch.nn.Linear:
        _check_tensor(f"{where}'s weight", model.weight, "torch")
        return [_tn.Linear.from_dense(model.weight.detach().numpy().T.copy(),
                                      None if model.bias is None else model.bias.detach().numpy().copy())]
    activations = {torch.nn.ReLU: _tn.ReLU, torch.nn.Tanh: _tn.Tanh, torch.nn.Sigmoid: _tn.Sigmoid}
    if type(model) in activations:
        return [activations[type(model)]()]
    if type(model) is torch.nn.GELU:
        if model.approximate != "none":
            raise ArgumentError(f"{where}: GELU(approximate={model.approximate!r}) has no tnswift "
                                "equivalent (tnswift's GELU is the exact, erf-based one)")
        return [_tn.GELU()]
    if type(model) is torch.nn.Identity:
        return [_tn.Identity()]
    if type(model) is torch.nn.Flatten:
        if model.start_dim != 1 or model.end_dim != -1:
            raise ArgumentError(f"{where}: Flatten(start_dim={model.start_dim}, end_dim={model.end_dim}); "
                                "only Flatten(1, -1), which keeps the batch, converts")
        return [_tn.Flatten()]
    if type(model) is torch.nn.Dropout:
        stage = _tn.Dropout(model.p)
        return [stage.train(model.training)]
    raise ArgumentError(f"{where} is a {type(model).__name__}, which has no tnswift equivalent; "
                        "convertible: bridged layers (tnswift.torch), torch.nn.Linear, ReLU, GELU, "
                        "Tanh, Sigmoid, Identity, Flatten, Dropout and nested Sequentials")


def to_tnswift(model):
    """A :class:`tnswift.nn.Sequential` computing what ``model`` computes.

    ``model`` is a ``torch.nn.Sequential`` (nested ones are flattened) or a single module of
    bridged layers (sharing their parameters: the result sees later torch updates),
    ``torch.nn.Linear`` (copied), ReLU, GELU (exact), Tanh, Sigmoid, Identity, Dropout and
    Flatten(1, -1).
    """
    if not isinstance(model, torch.nn.Module):
        raise ArgumentError(f"to_tnswift takes a torch.nn.Module, not {type(model).__name__}")
    stages = _stages(model, "")
    if not stages:
        raise ArgumentError("the model is an empty Sequential")
    return _tn.Sequential(*stages)


def export(model, path):
    """Writes ``model`` (see :func:`to_tnswift`) as a tnswift model file (safetensors) with
    :meth:`tnswift.nn.Sequential.save`: it loads with ``tnswift.nn.load``, ``tn_model_load`` in
    C and ``Sequential.load`` in Swift. Returns the :class:`tnswift.nn.Sequential`."""
    seq = to_tnswift(model)
    seq.save(path)
    return seq
