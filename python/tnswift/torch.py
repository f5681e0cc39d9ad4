"""PyTorch bridge: tnswift's contraction engine and factorized layers inside torch autograd.

- :func:`einsum` — ``torch.einsum`` on CPU float32/float64 tensors, run by tnswift's compiled
  plans (forward and every operand's gradient), zero-copy through NumPy views.
- :class:`TTLinear`, :class:`CPLinear`, :class:`TuckerLinear`, :class:`EinsumLayer`,
  :class:`TTTensorLinear`, :class:`TCL`, :class:`Linear` — ``torch.nn.Module`` versions of the :mod:`tnswift.nn` layers. Their
  ``torch.nn.Parameter`` s *are* the tnswift layer's storage, so torch optimizers, schedulers,
  ``state_dict`` / ``load_state_dict``, ``torch.save``, ``copy.deepcopy`` and
  ``DistributedDataParallel`` work on them unchanged.
- :class:`Conv2d`, :class:`CPConv2d`, :class:`TuckerConv2d`, :class:`TTConv2d` — the
  :mod:`tnswift.nn` convolutions the same way (same constructor arguments; ``forward`` takes a
  CPU NCHW tensor of the layer's dtype; ``to_dense()`` is the kernel (O, C, kh, kw), the
  layout of ``torch.nn.Conv2d.weight``). ``Cls.from_conv(torch_conv, rank= | eps=, ...)``
  factorizes a ``torch.nn.Conv2d`` (groups=1, padding_mode="zeros"), keeping its stride,
  padding and dilation.
- :class:`TTEmbedding` — ``tnswift.nn.TTEmbedding`` for ``torch.nn.Embedding`` /
  ``EmbeddingBag`` (CPU integer indices in, rows out; the cores are the Parameters);
  ``TTEmbedding.from_embedding(torch_embedding, rank= | eps=)`` by TT-SVD of the table.
- :func:`from_torch` — replaces every ``torch.nn.Linear`` (and, unless
  ``convolutions=False`` / ``embeddings=False``, every ``torch.nn.Conv2d``, ``Embedding`` and
  ``EmbeddingBag``) of a model by a factorized layer (TT-SVD, CP-ALS or Tucker of its weight,
  kernel or table) and reports the compression and error per layer.
- :func:`to_tnswift` / :func:`export` — a ``torch.nn.Sequential`` of bridged layers and
  activations as a :class:`tnswift.nn.Sequential` (sharing the parameters), and saved as a
  tnswift model file that C and Swift load. Model files hold linear layers only: ``export``
  of a model with convolutions raises (``to_tnswift`` converts it).

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
    "TTTensorLinear",
    "TCL",
    "Linear",
    "Conv2d",
    "CPConv2d",
    "TuckerConv2d",
    "TTConv2d",
    "TTEmbedding",
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
    """Whether the layer's forward cache holds exactly ``x`` (then its backward is for x):
    a linear layer keeps a tuple starting with x, a convolution x itself. If the cache's
    form is unknown this says no, and the caller re-runs the forward."""
    cached = getattr(layer, "_x", None)
    if isinstance(cached, tuple):
        return len(cached) > 0 and cached[0] is x
    return isinstance(cached, np.ndarray) and cached is x


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
    "TTTensorLinear": lambda l: {"in_features": list(l.in_modes), "out_features": list(l.out_modes),
                                 "rank": list(l.ranks)},
    "TCL": lambda l: {"input_shape": list(l.in_modes), "rank": list(l.out_modes)},
    "Conv2d": lambda l: dict(_conv_window(l), in_channels=l.in_channels, out_channels=l.out_channels),
    "CPConv2d": lambda l: dict(_conv_window(l), in_channels=list(l.in_modes), out_channels=list(l.out_modes),
                               rank=l.rank),
    "TuckerConv2d": lambda l: dict(_conv_window(l), in_channels=l.in_channels, out_channels=l.out_channels,
                                   rank=list(l.ranks)),
    "TTConv2d": lambda l: dict(_conv_window(l), in_channels=list(l.in_modes), out_channels=list(l.out_modes),
                               rank=list(l.ranks)),
    "TTEmbedding": lambda l: {"num_embeddings": l.num_embeddings, "embedding_dim": l.embedding_dim,
                              "rank": list(l.ranks[1:-1]) or [1], "n_modes": len(l.row_modes),
                              "row_modes": list(l.row_modes), "col_modes": list(l.col_modes),
                              "padding_idx": l.padding_idx, "mode": l.mode},
}


def _conv_window(layer):
    """A convolution's kernel size, stride, padding (as configured: a pair or "same" /
    "valid") and dilation, as constructor arguments."""
    padding = layer.padding if isinstance(layer.padding, str) else list(layer.padding)
    return {"kernel_size": list(layer.kernel_size), "stride": list(layer.stride), "padding": padding,
            "dilation": list(layer.dilation)}


def _spec(layer):
    """What rebuilds a layer of the same structure (values are restored separately)."""
    name = type(layer).__name__
    spec = _SPEC_KEYS[name](layer)
    spec.update(dtype=layer.dtype.name)
    if hasattr(layer, "bias"):      # embeddings have none
        spec.update(bias=layer.bias)
    return name, spec


class _Bridge(torch.nn.Module):
    """A tnswift layer or convolution as a torch module: what both kinds share (parameters
    bound to the layer's storage, autograd, pickling, refused conversions). Subclasses name
    the tnswift class; :class:`_LinearBridge` and :class:`_ConvBridge` add their kind's
    properties and constructors."""

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
        """The tnswift layer's forward on x, a CPU tensor of the layer's dtype (see the
        subclasses for the shapes)."""
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

    n_params = property(lambda self: self.layer.n_params, doc="Parameters, bias included.")
    compression = property(lambda self: self.layer.compression,
                           doc="Parameters of a dense layer (bias included) over n_params.")

    def to_dense(self):
        """The dense weight (linear layers: W (in_features, out_features), the transpose of
        a Linear's weight; convolutions: the kernel (O, C, kh, kw)) as a new tensor."""
        self._synced_parameters()
        with self._lock:
            return torch.from_numpy(self.layer.to_dense())


class _LinearBridge(_Bridge):
    """A tnswift linear layer as a torch module."""

    def forward(self, x):
        """``x @ W + b`` for x of shape (batch, in_features), (..., in_features) or
        (batch, *in_modes), a CPU tensor of the layer's dtype."""
        return super().forward(x)

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
        return _like(cls.from_dense(w, b, **kwargs), linear)

    in_features = property(lambda self: self.layer.in_features)
    out_features = property(lambda self: self.layer.out_features)
    in_modes = property(lambda self: self.layer.in_modes)
    out_modes = property(lambda self: self.layer.out_modes)

    def plan_report(self, batch):
        """The tnswift layer's forward plan for ``batch`` rows."""
        return self.layer.plan_report(batch)


def _like(module, source):
    """``module`` with ``source``'s requires_grad and training mode."""
    for p in module.parameters():
        p.requires_grad_(source.weight.requires_grad)
    module.train(source.training)
    return module


def _conv_settings(conv, where):
    """The kernel (O, C, kh, kw), the bias (or None) and the window (stride, padding,
    dilation) of a ``torch.nn.Conv2d``, as arrays viewing its tensors; raises for what
    tnswift's convolutions do not do."""
    if conv.groups != 1:
        raise ArgumentError(f"{where} has groups={conv.groups}; tnswift convolutions are ungrouped "
                            "(groups=1): keep grouped and depthwise convolutions as torch modules")
    if conv.padding_mode != "zeros":
        raise ArgumentError(f"{where} has padding_mode={conv.padding_mode!r}; tnswift convolutions pad "
                            "with zeros only (padding_mode='zeros')")
    padding = conv.padding
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ArgumentError(f"{where} has padding={padding!r}; tnswift takes ints, 'same' or 'valid'")
    else:
        padding = tuple(int(p) for p in padding)
    _check_tensor(f"{where}'s weight", conv.weight, "a plain torch.nn.Conv2d")
    kernel = conv.weight.detach().numpy()
    bias = None if conv.bias is None else conv.bias.detach().numpy()
    window = {"stride": tuple(conv.stride), "padding": padding, "dilation": tuple(conv.dilation)}
    return kernel, bias, window


class _ConvBridge(_Bridge):
    """A tnswift convolution as a torch module."""

    def forward(self, x):
        """``conv2d(x, K) + b`` for x of shape (N, in_channels, H, W), a CPU tensor of the
        layer's dtype (``torch.nn.functional.conv2d``'s semantics: cross-correlation, the
        layer's stride, zero padding and dilation); returns (N, out_channels, H', W')."""
        return super().forward(x)

    @classmethod
    def from_dense(cls, kernel, bias=None, **kwargs):
        """The tnswift convolution's ``from_dense`` on ``kernel`` (out_channels, in_channels,
        kh, kw) — the layout of ``torch.nn.Conv2d.weight`` — and ``bias``; tensors or arrays.
        ``kwargs``: ``stride``, ``padding``, ``dilation`` and the class's ``rank`` / ``eps`` /
        modes."""
        return cls.wrap(cls._tn_class.from_dense(np.ascontiguousarray(_as_array(kernel, "kernel")),
                                                 None if bias is None else _as_array(bias, "bias"),
                                                 **kwargs))

    @classmethod
    def from_conv(cls, conv, **kwargs):
        """The (factorized) form of a ``torch.nn.Conv2d`` — its kernel, bias, stride, padding
        and dilation — by ``from_dense`` with ``kwargs`` (``rank`` or ``eps``, and the class's
        ``in_modes``, ``out_modes``, ``order``, ``n_iter_max``). groups != 1 and padding modes
        other than "zeros" raise ArgumentError."""
        if not isinstance(conv, torch.nn.Conv2d):
            raise ArgumentError(f"from_conv takes a torch.nn.Conv2d, not {type(conv).__name__}")
        taken = sorted(k for k in ("stride", "padding", "dilation") if k in kwargs)
        if taken:
            raise ArgumentError(f"from_conv takes {', '.join(taken)} from the torch convolution; "
                                "build it with the window you want instead")
        kernel, bias, window = _conv_settings(conv, "the Conv2d")
        return _like(cls.from_dense(kernel, bias, **window, **kwargs), conv)

    in_channels = property(lambda self: self.layer.in_channels)
    out_channels = property(lambda self: self.layer.out_channels)
    kernel_size = property(lambda self: self.layer.kernel_size)
    stride = property(lambda self: self.layer.stride)
    padding = property(lambda self: self.layer.padding, doc="A pair, or 'same' / 'valid', as configured.")
    dilation = property(lambda self: self.layer.dilation)
    applied_padding = property(lambda self: self.layer.applied_padding,
                               doc="(top, bottom, left, right) as applied.")

    def output_shape(self, input_shape):
        """(N, out_channels, H', W') for an input of shape (N, in_channels, H, W)."""
        return self.layer.output_shape(input_shape)


def _as_array(value, name):
    if isinstance(value, torch.Tensor):
        _check_tensor(name, value, "a plain torch layer")
        return value.detach().numpy()
    return value


class Linear(_LinearBridge):
    """``tnswift.nn.Linear`` as a torch module (parameter "weight" is (in, out), unlike torch's)."""
    _tn_class = _tn.Linear

    def __init__(self, in_features, out_features, bias=True, dtype=torch.float32, seed=0):
        super().__init__(in_features, out_features, bias=bias, dtype=dtype, seed=seed)


class TTLinear(_LinearBridge):
    """``tnswift.nn.TTLinear`` as a torch module: parameters "core_0", ..., "bias"."""
    _tn_class = _tn.TTLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    @property
    def ranks(self):
        return self.layer.ranks


class CPLinear(_LinearBridge):
    """``tnswift.nn.CPLinear`` as a torch module: "weights", "factor_0", ..., "bias"."""
    _tn_class = _tn.CPLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    @property
    def rank(self):
        return self.layer.rank


class TuckerLinear(_LinearBridge):
    """``tnswift.nn.TuckerLinear`` as a torch module: "core", "factor_0", ..., "bias"."""
    _tn_class = _tn.TuckerLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    @property
    def ranks(self):
        return self.layer.ranks


class EinsumLayer(_LinearBridge):
    """``tnswift.nn.EinsumLayer`` as a torch module: "p0", "p1", ..., "bias"."""
    _tn_class = _tn.EinsumLayer

    def __init__(self, equation, param_shapes, bias=True, dtype=torch.float32, seed=0):
        super().__init__(equation, param_shapes, bias=bias, dtype=dtype, seed=seed)

    @property
    def equation(self):
        return self.layer.equation


class TTTensorLinear(_LinearBridge):
    """``tnswift.nn.TTTensorLinear`` (the TT weight of a tensor regression layer) as a torch
    module: "core_0", ..., "bias"."""
    _tn_class = _tn.TTTensorLinear

    def __init__(self, in_features, out_features, rank, bias=True, dtype=torch.float32, seed=0, order=3):
        super().__init__(in_features, out_features, rank, bias=bias, dtype=dtype, seed=seed, order=order)

    ranks = property(lambda self: self.layer.ranks)


class TCL(_LinearBridge):
    """``tnswift.nn.TCL`` (tensor contraction layer) as a torch module: "factor_0", ...
    ((rank_k, input_shape_k), tensorly-torch's layout), and "bias" when it has one. Takes x of
    shape (batch, *input_shape) or (batch, prod(input_shape))."""
    _tn_class = _tn.TCL

    def __init__(self, input_shape, rank, bias=False, dtype=torch.float32, seed=0):
        super().__init__(input_shape, rank, bias=bias, dtype=dtype, seed=seed)

    input_shape = property(lambda self: self.layer.input_shape)
    rank = property(lambda self: self.layer.rank)


class Conv2d(_ConvBridge):
    """``tnswift.nn.Conv2d`` as a torch module: "weight" (O, C, kh, kw), as torch's, "bias"."""
    _tn_class = _tn.Conv2d

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 dtype=torch.float32, seed=0):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                         dilation=dilation, bias=bias, dtype=dtype, seed=seed)


class CPConv2d(_ConvBridge):
    """``tnswift.nn.CPConv2d`` as a torch module: "weights" (rank,), "factor_k" (mode, rank)
    for the output-channel modes, the input-channel modes, kh and kw, then "bias"."""
    _tn_class = _tn.CPConv2d

    def __init__(self, in_channels, out_channels, kernel_size, rank, stride=1, padding=0, dilation=1, bias=True,
                 dtype=torch.float32, seed=0, order=1):
        super().__init__(in_channels, out_channels, kernel_size, rank, stride=stride, padding=padding,
                         dilation=dilation, bias=bias, dtype=dtype, seed=seed, order=order)

    rank = property(lambda self: self.layer.rank)
    in_modes = property(lambda self: self.layer.in_modes)
    out_modes = property(lambda self: self.layer.out_modes)


class TuckerConv2d(_ConvBridge):
    """``tnswift.nn.TuckerConv2d`` as a torch module: "core" (r_out, r_in, kh, kw),
    "factor_0" (O, r_out), "factor_1" (C, r_in), "bias"."""
    _tn_class = _tn.TuckerConv2d

    def __init__(self, in_channels, out_channels, kernel_size, rank, stride=1, padding=0, dilation=1, bias=True,
                 dtype=torch.float32, seed=0):
        super().__init__(in_channels, out_channels, kernel_size, rank, stride=stride, padding=padding,
                         dilation=dilation, bias=bias, dtype=dtype, seed=seed)

    ranks = property(lambda self: self.layer.ranks, doc="(r_out, r_in).")


class TTConv2d(_ConvBridge):
    """``tnswift.nn.TTConv2d`` as a torch module: "core_0" (kh, kw, r_0), "core_k"
    (r_{k-1}, c_k, o_k, r_k) over the channel modes, "bias"."""
    _tn_class = _tn.TTConv2d

    def __init__(self, in_channels, out_channels, kernel_size, rank, stride=1, padding=0, dilation=1, bias=True,
                 dtype=torch.float32, seed=0, order=2):
        super().__init__(in_channels, out_channels, kernel_size, rank, stride=stride, padding=padding,
                         dilation=dilation, bias=bias, dtype=dtype, seed=seed, order=order)

    ranks = property(lambda self: self.layer.ranks, doc="(r_0, ..., r_{d-1}): the spatial rank, then the bonds.")
    in_modes = property(lambda self: self.layer.in_modes)
    out_modes = property(lambda self: self.layer.out_modes)


class _EmbeddingFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, module, indices, offsets, *params):
        with module._lock:
            y = module.layer(indices, offsets)
        ctx.module = module
        ctx.lookups = (indices, offsets)
        ctx.save_for_backward(*params)  # torch's in-place checks cover the cores
        return torch.from_numpy(y)

    @staticmethod
    def backward(ctx, dy):
        _first_order_only()
        ctx.saved_tensors  # noqa: B018 - raises if a core changed in place since forward
        module = ctx.module
        layer = module.layer
        indices, offsets = ctx.lookups
        dy_np, _ = _view(dy)
        with module._lock:
            # The layer keeps its last forward's lookups; if another forward came since
            # (the module used twice in one graph), ours runs again first.
            last = getattr(layer, "_last", None)
            same = (last is not None and np.array_equal(last[0], indices.reshape(-1))
                    and (offsets is None) == (last[1] is None)
                    and (offsets is None or np.array_equal(last[1], offsets)))
            if not same:
                layer(indices, offsets)
            layer.backward(dy_np)
            grads = layer.grads()
            out = [torch.from_numpy(grads[name].copy()) if need else None
                   for name, need in zip(module._names, ctx.needs_input_grad[3:])]
        return (None, None, None, *out)


def _indices(t, name):
    """int64 NumPy indices from a CPU integer tensor (or anything NumPy takes)."""
    if isinstance(t, torch.Tensor):
        if t.device.type != "cpu":
            raise DeviceError(f"{name} is on device '{t.device}'; tnswift runs on the CPU only: move it with .cpu()")
        if t.dtype.is_floating_point or t.dtype.is_complex or t.dtype == torch.bool:
            raise DTypeError(f"{name} has dtype {t.dtype}; indices must be integers (torch.long)")
        return np.ascontiguousarray(t.detach().numpy(), dtype=np.int64)
    return t


class TTEmbedding(_Bridge):
    """``tnswift.nn.TTEmbedding`` as a torch module: a drop-in for ``torch.nn.Embedding`` (and,
    with ``mode="sum"`` / ``"mean"``, ``torch.nn.EmbeddingBag``) whose Parameters
    "core_0", ... are the TT cores (tensorly-torch's ``blocktt`` layout). ``forward(input,
    offsets=None)`` takes CPU integer tensors and returns float rows; the cores get gradients
    (repeated indices add up; padding_idx rows give none)."""
    _tn_class = _tn.TTEmbedding

    def __init__(self, num_embeddings, embedding_dim, rank=8, dtype=torch.float32, **kwargs):
        super().__init__(num_embeddings, embedding_dim, rank=rank, dtype=dtype, **kwargs)

    def forward(self, input, offsets=None):
        """The rows of ``input`` (shape ``input.shape + (embedding_dim,)``), or with a bag mode
        one row per bag (1-D ``input`` with ``offsets``, or 2-D ``input``)."""
        return _EmbeddingFunction.apply(self, _indices(input, "input"),
                                        None if offsets is None else _indices(offsets, "offsets"),
                                        *self._synced_parameters())

    @classmethod
    def from_dense(cls, table, **kwargs):
        """``tnswift.nn.TTEmbedding.from_dense`` on ``table`` (num_embeddings, embedding_dim), a
        tensor or an array; ``kwargs``: ``rank`` or ``eps``, ``n_modes``, ``row_modes``,
        ``col_modes``, ``padding_idx``, ``mode``."""
        return cls.wrap(cls._tn_class.from_dense(np.ascontiguousarray(_as_array(table, "table")), **kwargs))

    @classmethod
    def from_embedding(cls, embedding, **kwargs):
        """The TT form of a ``torch.nn.Embedding`` or ``torch.nn.EmbeddingBag`` (its table,
        padding_idx and bag mode) by TT-SVD with ``rank`` or ``eps``. max_norm,
        scale_grad_by_freq, per-sample weights and mode="max" have no TT counterpart and raise."""
        if not isinstance(embedding, (torch.nn.Embedding, torch.nn.EmbeddingBag)):
            raise ArgumentError(f"from_embedding takes a torch.nn.Embedding or EmbeddingBag, not {type(embedding).__name__}")
        if embedding.max_norm is not None or embedding.scale_grad_by_freq:
            raise ArgumentError("max_norm and scale_grad_by_freq are not supported by TTEmbedding")
        mode = None
        if isinstance(embedding, torch.nn.EmbeddingBag):
            if embedding.mode not in ("sum", "mean"):
                raise ArgumentError(f"mode={embedding.mode!r}: TTEmbedding bags are 'sum' or 'mean'")
            if embedding.include_last_offset:
                raise ArgumentError("TTEmbedding bags take bag starts as offsets (include_last_offset=False)")
            mode = embedding.mode
        for k in ("padding_idx", "mode"):
            if k in kwargs:
                raise ArgumentError(f"from_embedding takes {k} from the torch module")
        _check_tensor("the embedding's weight", embedding.weight, "a plain torch.nn.Embedding")
        module = cls.from_dense(embedding.weight.detach().numpy(), padding_idx=embedding.padding_idx,
                                mode=mode, **kwargs)
        return _like(module, embedding)

    num_embeddings = property(lambda self: self.layer.num_embeddings)
    embedding_dim = property(lambda self: self.layer.embedding_dim)
    padding_idx = property(lambda self: self.layer.padding_idx)
    mode = property(lambda self: self.layer.mode)
    row_modes = property(lambda self: self.layer.row_modes)
    col_modes = property(lambda self: self.layer.col_modes)
    ranks = property(lambda self: self.layer.ranks)


_BRIDGES = {c._tn_class: c for c in (Linear, TTLinear, CPLinear, TuckerLinear, EinsumLayer, TTTensorLinear, TCL,
                                     Conv2d, CPConv2d, TuckerConv2d, TTConv2d, TTEmbedding)}


def wrap(layer):
    """The bridged module for a :mod:`tnswift.nn` layer or convolution (sharing its parameters)."""
    cls = _BRIDGES.get(type(layer))
    if cls is None:
        raise ArgumentError(f"{type(layer).__name__} is not a tnswift.nn layer or convolution "
                            f"({', '.join(c.__name__ for c in _BRIDGES)})")
    return cls.wrap(layer)


# ---------------------------------------------------------------------------- from_torch

class LayerReport(NamedTuple):
    """One replaced ``torch.nn.Linear``, ``Conv2d``, ``Embedding`` or ``EmbeddingBag``:
    parameter counts include the bias; ``compression`` is params_before / params_after;
    ``rel_error`` is ||W - W_hat||_F / ||W||_F (a convolution: of its kernel; an embedding: of
    its table). For a convolution ``in_features`` / ``out_features`` are its input / output
    channels, for an embedding num_embeddings / embedding_dim; ``kind`` is the replaced
    module's class name."""
    name: str
    in_features: int
    out_features: int
    params_before: int
    params_after: int
    compression: float
    rel_error: float
    kind: str = "Linear"


class ConversionReport(list):
    """The :class:`LayerReport` of every replaced layer, in model order; ``str()`` is a table."""

    @property
    def params_before(self):
        return sum(r.params_before for r in self)

    @property
    def params_after(self):
        return sum(r.params_after for r in self)

    def __str__(self):
        # A "kind" column only when convolutions are listed (in/out are then their channels).
        kinds = any(r.kind != "Linear" for r in self)
        head = ("layer", "in", "out", "params", "factorized", "compression", "rel. error") + (("kind",) * kinds)
        rows = [(r.name or "(model)", str(r.in_features), str(r.out_features), f"{r.params_before:,}",
                 f"{r.params_after:,}", f"{r.compression:.2f}x", f"{r.rel_error:.3e}") + ((r.kind,) * kinds)
                for r in self]
        if self:
            total = self.params_before / max(self.params_after, 1)
            rows.append(("total", "", "", f"{self.params_before:,}", f"{self.params_after:,}",
                         f"{total:.2f}x", "") + (("",) * kinds))
        widths = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]
        return "\n".join("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                                   for i, (c, w) in enumerate(zip(line, widths)))
                         for line in [head] + rows)


_FORMATS = {"tt": TTLinear, "cp": CPLinear, "tucker": TuckerLinear, "linear": Linear}
_CONV_FORMATS = {"tt": TTConv2d, "cp": CPConv2d, "tucker": TuckerConv2d, "linear": Conv2d}


def from_torch(module, format="tt", *, rank=None, eps=None, budget=None, include=None, inplace=False,
               convolutions=True, conv_options=None, embeddings=True, embedding_options=None, **options):
    """Replaces every ``torch.nn.Linear`` in ``module`` (recursively) by a factorized layer,
    and every ``torch.nn.Conv2d`` by a factorized convolution.

    ``format`` is "tt", "cp", "tucker" (or "linear": the same dense weight in tnswift);
    exactly one of ``rank``, ``eps`` or ``budget`` goes to the tnswift layer's ``from_dense``
    (none for "linear"), with ``options`` (``order``, ``in_modes``, ``out_modes``,
    ``n_iter_max``, ...). ``include(name, module) -> bool`` selects layers (default: all).
    Only exact ``torch.nn.Linear`` instances are replaced, not subclasses (attention's output
    projection is read by its parent, not called). A Linear used at several places is
    replaced by one shared module.

    Convolutions: exact ``torch.nn.Conv2d`` modules become :class:`TTConv2d`,
    :class:`CPConv2d`, :class:`TuckerConv2d` (or :class:`Conv2d` for "linear") through
    ``from_conv`` with the same ``rank`` or ``eps`` (``budget`` is not supported for
    convolutions and raises) and ``conv_options`` (a dict: ``order``, ``in_modes``,
    ``out_modes``, ``n_iter_max``; ``options`` go to the linear layers only).
    ``convolutions=False`` leaves them alone. Grouped convolutions and padding modes other
    than "zeros" raise ArgumentError (exclude them with ``include``).

    Embeddings: exact ``torch.nn.Embedding`` and ``torch.nn.EmbeddingBag`` modules become
    :class:`TTEmbedding` (the one factorized embedding, whatever ``format``; "linear" leaves
    them alone) through ``from_embedding`` with the same ``rank`` or ``eps`` and
    ``embedding_options`` (``n_modes``, ``row_modes``, ``col_modes``); ``embeddings=False``
    leaves them alone. ``budget`` raises for them as for convolutions.

    Returns ``(model, report)``: a modified deep copy (``inplace=True``: ``module`` itself;
    a bare Linear or Conv2d is returned replaced) and a :class:`ConversionReport`.
    """
    if format not in _FORMATS:
        raise ArgumentError(f"format must be one of {', '.join(map(repr, _FORMATS))}, not {format!r}")
    cls, conv_cls = _FORMATS[format], _CONV_FORMATS[format]
    if not isinstance(module, torch.nn.Module):
        raise ArgumentError(f"from_torch takes a torch.nn.Module, not {type(module).__name__}")
    for what, value in (("conv_options", conv_options), ("embedding_options", embedding_options)):
        if value is not None and not isinstance(value, dict):
            raise ArgumentError(f"{what} must be a dict, not {type(value).__name__}")
    kwargs = dict(options)
    conv_kwargs = dict(conv_options or {})
    emb_kwargs = dict(embedding_options or {})
    embeddings = embeddings and format != "linear"
    if format != "linear":
        target = {k: v for k, v in (("rank", rank), ("eps", eps), ("budget", budget)) if v is not None}
        kwargs.update(target)
        conv_kwargs.update(target)
        emb_kwargs.update(target)
    elif rank is not None or eps is not None or budget is not None:
        raise ArgumentError("format='linear' keeps the dense weight: rank, eps and budget do not apply")
    model = module if inplace else copy.deepcopy(module)
    report = ConversionReport()
    done = {}  # id(Linear or Conv2d) -> its replacement

    def convert(name, old):
        if id(old) not in done:
            if type(old) is torch.nn.Conv2d:
                new = conv_cls.from_conv(old, **conv_kwargs)
                w = old.weight.detach().numpy().astype(np.float64)
                sizes = (old.in_channels, old.out_channels)
            elif type(old) in _EMBEDDINGS:
                new = TTEmbedding.from_embedding(old, **emb_kwargs)
                w = old.weight.detach().numpy().astype(np.float64)
                sizes = tuple(old.weight.shape)
            else:
                new = cls.from_linear(old, **kwargs)
                w = old.weight.detach().numpy().T.astype(np.float64)
                sizes = (old.in_features, old.out_features)
            err = np.linalg.norm(w - new.layer.to_dense().astype(np.float64))
            norm = np.linalg.norm(w)
            bias = getattr(old, "bias", None)  # embeddings have none
            before = old.weight.numel() + (0 if bias is None else bias.numel())
            report.append(LayerReport(name, *sizes, before, new.n_params, before / new.n_params,
                                      float(err / norm) if norm > 0 else float(err), type(old).__name__))
            done[id(old)] = (old, new)  # the old module stays referenced, so its id stays unique
        return done[id(old)][1]

    def wanted(name, m):
        kind = (type(m) is torch.nn.Linear or (convolutions and type(m) is torch.nn.Conv2d)
                or (embeddings and type(m) in _EMBEDDINGS))
        return kind and (include is None or include(name, m))

    if budget is not None:
        # Checked before anything is replaced (inplace=True must not leave a half-converted model).
        others = [n or "the model" for n, m in model.named_modules()
                  if (type(m) is torch.nn.Conv2d or type(m) in _EMBEDDINGS) and wanted(n, m)]
        if others:
            raise ArgumentError(f"budget is not supported for convolutions and embeddings ({', '.join(others)}): "
                                "their from_dense takes rank or eps; pass one of those, convolutions=False / "
                                "embeddings=False, or an include that leaves them out")

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
    if isinstance(model, TTEmbedding):
        raise ArgumentError(f"{where} is a TTEmbedding: tnswift models (Sequential and model files) take "
                            "float inputs, so embeddings stay torch modules (save them with torch.save)")
    if isinstance(model, _Bridge):
        model._synced_parameters()
        return [model.layer]
    if type(model) is torch.nn.Linear:
        _check_tensor(f"{where}'s weight", model.weight, "torch")
        return [_tn.Linear.from_dense(model.weight.detach().numpy().T.copy(),
                                      None if model.bias is None else model.bias.detach().numpy().copy())]
    if type(model) is torch.nn.Conv2d:
        kernel, bias, window = _conv_settings(model, where)
        return [_tn.Conv2d.from_dense(kernel.copy(), None if bias is None else bias.copy(), **window)]
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
                        "convertible: bridged layers and convolutions (tnswift.torch), torch.nn.Linear, "
                        "torch.nn.Conv2d, ReLU, GELU, Tanh, Sigmoid, Identity, Flatten, Dropout and "
                        "nested Sequentials")


def to_tnswift(model):
    """A :class:`tnswift.nn.Sequential` computing what ``model`` computes.

    ``model`` is a ``torch.nn.Sequential`` (nested ones are flattened) or a single module of
    bridged layers and convolutions (sharing their parameters: the result sees later torch
    updates), ``torch.nn.Linear`` and ``torch.nn.Conv2d`` (groups=1, zero padding; copied as
    tnswift ``Linear`` / ``Conv2d``), ReLU, GELU (exact), Tanh, Sigmoid, Identity, Dropout and
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
    C and ``Sequential.load`` in Swift. Returns the :class:`tnswift.nn.Sequential`.

    Model files hold linear layers only: a model with convolutions (bridged or
    ``torch.nn.Conv2d``) raises ArgumentError before anything is written; keep such models
    with ``torch.save`` / ``state_dict`` (or use :func:`to_tnswift` in memory)."""
    seq = to_tnswift(model)
    convs = [f"stage {i} ({type(s).__name__})" for i, s in enumerate(seq.stages) if isinstance(s, _CONVS)]
    if convs:
        raise ArgumentError(f"cannot export a model with convolutions ({', '.join(convs)}): tnswift model "
                            "files hold linear layers only (plus activations, Flatten and Dropout); save it "
                            "with torch.save / state_dict, or use to_tnswift(model) in memory")
    seq.save(path)
    return seq


_CONVS = (_tn.Conv2d, _tn.CPConv2d, _tn.TuckerConv2d, _tn.TTConv2d)
_EMBEDDINGS = (torch.nn.Embedding, torch.nn.EmbeddingBag)
