"""Factorized linear layers: ``y = x @ W + b`` with W a tensor network.

Every layer is one Swift ``EinsumLayer`` (an equation plus its parameters) behind a
``tn_layer`` handle; this module only normalises arguments and shapes.

- :class:`Linear` — dense W, the reference.
- :class:`TTLinear` — W as a TT-matrix: cores ``(r_{k-1}, in_k, out_k, r_k)``.
- :class:`CPLinear` — W in CP form: ``weights`` ``(rank,)``, then one factor
  ``(mode, rank)`` per input mode, then one per output mode.
- :class:`TuckerLinear` — a ``core`` of shape ``ranks`` and one factor ``(mode, rank)`` per
  mode (input modes first).
- :class:`TTTensorLinear` — W as a tensor train over the input modes then the output
  modes: cores ``(r_{k-1}, mode_k, r_k)`` (not a TT-matrix: no pairing of in and out modes).
- :class:`TCL` — the tensor contraction layer: one factor ``(rank_k, in_k)`` per input mode,
  ``y = x x_1 U_1 ... x_N U_N`` of shape ``(batch, *rank)``.
- :class:`TRL` — the tensor regression layer: makes a :class:`CPLinear`,
  :class:`TuckerLinear` or :class:`TTTensorLinear` from an input and an output shape.
- :class:`TTFeedForward` and :class:`MultiLinearAttention` — a transformer's feed-forward
  block with TT-matrix weights and multi-linear attention (see :mod:`tnswift.attention`).
- :class:`EinsumLayer` — any equation, e.g. ``"nij,aik,bjk->nab"`` (input first, its first
  label the batch; then the parameters; the output leads with the batch).

W is ``(in_features, out_features)``; its rows are the input modes in C order, its columns
the output modes. ``layer(x)`` accepts ``(batch, in_features)``, ``(batch, *in_modes)`` or
``(..., in_features)`` and returns ``y`` in the matching form. ``layer.backward(dy)`` takes
the gradient of the loss with respect to that ``y``, fills every parameter gradient
(overwriting the previous ones) and returns ``dx``.

``parameters()`` and ``grads()`` return NumPy arrays that *are* the layer's storage: an
optimizer step written into them changes the layer, and they keep the storage alive after
the layer object is gone. Forward and backward release the GIL; calls on one layer are
serialised by the layer, different layers run in parallel. A layer keeps its last forward's
input for backward, so backward must come from the thread that made that forward (else
ArgumentError): share a layer between threads for inference, train one per thread.
"""

import abc
import json
import os
import threading

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from ._arguments import dtype_code as _code, layer_dtype as _layer_dtype, modes as _modes, positive as _positive
from ._arguments import dense_operand, matching_bias, prod as _prod, rank_list as _rank_list, seed as _seed
from ._arguments import tt_ranks as _tt_ranks
from ._layer_base import ParameterViews, check_same_thread
from .attention import MultiLinearAttention, TTFeedForward
from .activations import GELU, Identity, ReLU, Sigmoid, Tanh, cross_entropy, mse_loss
from .conv import Conv2d, CPConv2d, TTConv2d, TuckerConv2d
from .decompose import _index
from .embedding import TTEmbedding
from .recurrent import TTGRU, TTLSTM
from .stages import Dropout, Flatten
from .training import Sequential, fit

__all__ = [
    "Sequential",
    "fit",
    "load",
    "Flatten",
    "Dropout",
    "Identity",
    "ReLU",
    "GELU",
    "Tanh",
    "Sigmoid",
    "cross_entropy",
    "mse_loss",
    "Linear",
    "TTLinear",
    "TTEmbedding",
    "TTLSTM",
    "TTGRU",
    "TTFeedForward",
    "MultiLinearAttention",
    "CPLinear",
    "TuckerLinear",
    "TTTensorLinear",
    "TCL",
    "TRL",
    "EinsumLayer",
    "PlanReport",
    "Conv2d",
    "CPConv2d",
    "TuckerConv2d",
    "TTConv2d",
]


# ---------------------------------------------------------------------------- helpers

class PlanReport:
    """How a layer's forward runs for one batch size (``str()`` gives the full text).

    Attributes: ``batch``, ``flops`` (of the chosen path), ``dense_flops`` (of a dense
    layer), ``reconstructs_weight`` (True when the path contracts the parameters into W
    first and then does one GEMM), ``largest_intermediate`` (elements), ``parameter_bytes``,
    ``dense_bytes`` and ``text``.
    """

    __slots__ = ("batch", "flops", "dense_flops", "reconstructs_weight", "largest_intermediate",
                 "parameter_bytes", "dense_bytes", "text")

    def __init__(self, numbers, text):
        for key, value in numbers.items():
            setattr(self, key, value)
        self.text = text

    def __str__(self):
        return self.text

    def __repr__(self):
        return (f"PlanReport(batch={self.batch}, flops={self.flops:g}, dense_flops={self.dense_flops:g}, "
                f"reconstructs_weight={self.reconstructs_weight})")


def _shape(value, name):
    """A tensor shape: an int is one mode of that size, a sequence its modes (each >= 1)."""
    if hasattr(value, "__iter__") or isinstance(value, (str, bytes)):
        return _modes(value, name, 1)
    n = _index(value, name)
    if n < 1:
        raise ShapeError(f"{name} must be at least 1 (got {n})")
    return (n,)


# ---------------------------------------------------------------------------- base class

class _Layer(ParameterViews):
    """What every layer shares; subclasses only build the handle."""

    _kind = None

    def _attach(self, handle):
        self._handle = handle
        info = handle.info()
        self.in_features = info["in_features"]
        self.out_features = info["out_features"]
        self.in_modes = tuple(info["in_modes"])
        self.out_modes = tuple(info["out_modes"])
        self.dtype = np.dtype(info["dtype"])
        self.bias = info["has_bias"]
        self.n_params = info["parameter_count"]
        self.compression = info["compression"]
        # name -> (value, gradient): NumPy arrays over the layer's buffers (LayerBuffer keeps
        # the handle alive as long as any of them exists).
        self._arrays = {name: (np.asarray(data), np.asarray(grad)) for name, data, grad in handle.parameters()}
        self._x = None

    @classmethod
    def _from_handle(cls, handle):
        layer = cls.__new__(cls)
        layer._attach(handle)
        return layer

    # -- forward / backward

    def _shapes(self, x):
        """(x as passed to the engine, its y shape, the shape y is returned in)."""
        shape = x.shape
        if len(self.in_modes) > 1 and x.ndim == 1 + len(self.in_modes) and shape[1:] == self.in_modes:
            return x, (shape[0],) + self.out_modes, (shape[0],) + self.out_modes
        if x.ndim >= 1 and shape[-1] == self.in_features:
            x2 = x if x.ndim == 2 else x.reshape(-1, self.in_features)
            return x2, (x2.shape[0], self.out_features), shape[:-1] + (self.out_features,)
        modes = ", ".join(str(m) for m in self.in_modes)
        raise ShapeError(f"the input has shape {shape} but the layer takes (batch, {self.in_features}), "
                         f"(batch, {modes}) or (..., {self.in_features})")

    def forward(self, x):
        """``y = x @ W + b`` for x of shape (batch, in_features), (batch, *in_modes) or
        (..., in_features); y has the matching shape. x is kept (by reference) for
        :meth:`backward`."""
        x = self._input(x, "x")
        x2, y2_shape, y_shape = self._shapes(x)
        y = np.empty(y2_shape, dtype=self.dtype)
        self._handle.forward(x2, y)
        self._x = (x, x2, y2_shape, y_shape)
        self._x_thread = threading.get_ident()
        return y.reshape(y_shape)

    __call__ = forward

    def backward(self, dy, input_grad=True):
        """Gradients of ``sum(y * dy)`` for the last forward: fills :meth:`grads` (replacing
        what was there) and returns dx, shaped like that forward's x — or, with
        ``input_grad=False`` (a network's first layer), skips dx and returns None."""
        if self._x is None:
            raise ArgumentError("backward() needs a forward() first: the gradients are taken at "
                                "the last forward's input")
        check_same_thread(self._x_thread, type(self).__name__)
        x, x2, y2_shape, y_shape = self._x
        dy = self._input(dy, "dy")
        if dy.shape != y_shape:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward returned y of shape {y_shape}")
        dy2 = dy.reshape(y2_shape)
        if not input_grad:
            self._handle.backward(dy2, x2, None)
            return None
        dx2 = np.empty(x2.shape, dtype=self.dtype)
        self._handle.backward(dy2, x2, dx2)
        return dx2.reshape(x.shape)

    # -- the weight and the plan

    def to_dense(self):
        """W as an (in_features, out_features) array, contracted from the parameters."""
        w = np.empty((self.in_features, self.out_features), dtype=self.dtype)
        self._handle.dense_weight(w)
        return w

    def plan_report(self, batch):
        """The forward plan for ``batch`` rows, with its cost next to a dense layer's."""
        batch = _index(batch, "batch")
        if batch < 0:
            raise ArgumentError(f"batch must be non-negative (got {batch})")
        numbers, text = self._handle.plan_report(batch)
        return PlanReport(numbers, text)

    def _describe(self):
        return f"in_modes={self.in_modes}, out_modes={self.out_modes}"

    def __repr__(self):
        return (f"{type(self).__name__}({self._describe()}, bias={self.bias}, dtype={self.dtype}, "
                f"n_params={self.n_params}, compression={self.compression:.3g})")

    # -- files

    def save(self, path):
        """Writes the layer as a one-layer model file (see :meth:`Sequential.save`)."""
        Sequential(self).save(path)

    @classmethod
    def load(cls, path):
        """The layer from a file :meth:`save` wrote (a model of exactly this one layer)."""
        model = load(path)
        if len(model.stages) != 1 or type(model.stages[0]) is not cls:
            raise ArgumentError(f"{os.fspath(path)!r} holds {model!r}, not a single {cls.__name__}; "
                                "use tnswift.nn.load for whole models")
        return model.stages[0]

    # -- from a dense weight

    @classmethod
    def _dense(cls, weight, bias, in_modes, out_modes, rank, eps, budget, order, n_iter_max=None, tol=None):
        weight = dense_operand(weight, "weight", 2, "(in_features, out_features)")
        bias = matching_bias(bias, "weight", weight, weight.shape[1])
        ins = _modes(weight.shape[0] if in_modes is None else in_modes, "in_modes", order)
        outs = _modes(weight.shape[1] if out_modes is None else out_modes, "out_modes", order)
        if _prod(ins) != weight.shape[0] or _prod(outs) != weight.shape[1]:
            raise ShapeError(f"in_modes {ins} and out_modes {outs} multiply to "
                             f"({_prod(ins)}, {_prod(outs)}) but the weight is {weight.shape}")
        given = [n for n, v in (("rank", rank), ("eps", eps), ("budget", budget)) if v is not None]
        if cls._kind != _ext.LAYER_LINEAR and len(given) != 1:
            raise ArgumentError(f"{cls.__name__}.from_dense needs exactly one of rank, eps or budget "
                                f"(got {', '.join(given) or 'none'})")
        r = -1 if rank is None else _positive(rank, "rank")
        b = -1 if budget is None else _positive(budget, "budget")
        e = -1.0
        if eps is not None:
            e = float(eps)
            if not (np.isfinite(e) and e >= 0):
                raise ArgumentError(f"eps must be finite and non-negative (got {eps!r})")
        iters = 0 if n_iter_max is None else _positive(n_iter_max, "n_iter_max")
        t = -1.0
        if tol is not None:
            t = float(tol)
            if not (np.isfinite(t) and t >= 0):
                raise ArgumentError(f"tol must be finite and non-negative (got {tol!r})")
        handle = _ext.layer_from_dense(cls._kind, weight, bias, list(ins), list(outs), r, e, b, iters, t)
        return cls._from_handle(handle)


# ---------------------------------------------------------------------------- layers

class Linear(_Layer):
    """Dense ``y = x @ W + b``, W ``(in_features, out_features)`` (parameter "weight")."""

    _kind = _ext.LAYER_LINEAR

    def __init__(self, in_features, out_features, bias=True, dtype=np.float32, seed=0):
        ins = _positive(in_features, "in_features")
        outs = _positive(out_features, "out_features")
        self._attach(_ext.layer_create(self._kind, _ext.FLOAT32 if _layer_dtype(dtype) == np.float32 else _ext.FLOAT64,
                                       [ins], [outs], None, None, None, bool(bias), _seed(seed)))

    @classmethod
    def from_dense(cls, weight, bias=None):
        """A Linear layer holding a copy of ``weight`` (in_features, out_features) and ``bias``."""
        return cls._dense(weight, bias, None, None, None, None, None, 1)

    def _describe(self):
        return f"in_features={self.in_features}, out_features={self.out_features}"


class TTLinear(_Layer):
    """W as a TT-matrix (Novikov et al. 2015): core k ``(r_{k-1}, in_k, out_k, r_k)``.

    ``in_features`` / ``out_features`` are ints (split into ``order`` balanced modes) or mode
    sequences of the same length; ``rank`` is one int for every bond, the d - 1 bond ranks,
    or d + 1 ranks with 1 at both ends.
    """

    _kind = _ext.LAYER_TT

    def __init__(self, in_features, out_features, rank, bias=True, dtype=np.float32, seed=0, order=3):
        ins = _modes(in_features, "in_modes", order)
        outs = _modes(out_features, "out_modes", order)
        if len(ins) != len(outs):
            raise ShapeError(f"TTLinear needs as many input as output modes (got {ins} and {outs})")
        ranks = _tt_ranks(rank, len(ins), "TTLinear")
        self._attach(_ext.layer_create(self._kind, _code(dtype), list(ins), list(outs), ranks, None, None,
                                       bool(bias), _seed(seed)))

    @property
    def ranks(self):
        """The d + 1 TT ranks (first and last 1)."""
        cores = [v for n, (v, _) in self._arrays.items() if n != "bias"]
        return tuple(c.shape[0] for c in cores) + (1,)

    @classmethod
    def from_dense(cls, weight, bias=None, *, in_modes=None, out_modes=None, rank=None, eps=None,
                   budget=None, order=3):
        """TT-SVD of a dense ``weight`` (in_features, out_features): with a rank cap, with
        ``||W - W_tt||_F <= eps ||W||_F``, or with the largest rank whose cores fit ``budget``
        parameters. Modes default to ``order`` balanced modes."""
        return cls._dense(weight, bias, in_modes, out_modes, rank, eps, budget, order)

    def _describe(self):
        return f"{super()._describe()}, ranks={self.ranks}"


class CPLinear(_Layer):
    """W in CP form: ``weights`` (rank,), a factor (m_k, rank) per input mode, then one
    (n_k, rank) per output mode (tensorly-torch's layout)."""

    _kind = _ext.LAYER_CP

    def __init__(self, in_features, out_features, rank, bias=True, dtype=np.float32, seed=0, order=3):
        ins = _modes(in_features, "in_modes", order)
        outs = _modes(out_features, "out_modes", order)
        r = _positive(rank, "rank")
        self._attach(_ext.layer_create(self._kind, _code(dtype), list(ins), list(outs), [r], None, None,
                                       bool(bias), _seed(seed)))

    @property
    def rank(self):
        return self._arrays["weights"][0].shape[0]

    @property
    def ranks(self):
        return (self.rank,)

    @classmethod
    def from_dense(cls, weight, bias=None, *, in_modes=None, out_modes=None, rank=None, eps=None,
                   budget=None, order=3, n_iter_max=None, tol=None):
        """CP-ALS (SVD start) of ``weight`` seen as the tensor (in modes..., out modes...): with
        ``rank``, the smallest rank reaching relative error ``eps``, or the largest rank fitting
        ``budget``. ``n_iter_max`` (default 500) and ``tol`` (default 1e-12; 0 runs every
        iteration) bound each ALS run."""
        return cls._dense(weight, bias, in_modes, out_modes, rank, eps, budget, order, n_iter_max, tol)

    def _describe(self):
        return f"{super()._describe()}, rank={self.rank}"


class TuckerLinear(_Layer):
    """W in Tucker form: ``core`` of shape ``ranks``, then a factor (mode, rank) per input mode
    and per output mode. ``rank`` is one int (clipped to each mode) or one per mode."""

    _kind = _ext.LAYER_TUCKER

    def __init__(self, in_features, out_features, rank, bias=True, dtype=np.float32, seed=0, order=3):
        ins = _modes(in_features, "in_modes", order)
        outs = _modes(out_features, "out_modes", order)
        ranks = _rank_list(rank, "rank")
        if len(ranks) not in (1, len(ins) + len(outs)):
            raise ShapeError(f"rank has {len(ranks)} entries; TuckerLinear with {len(ins) + len(outs)} "
                             "modes takes one or one per mode")
        self._attach(_ext.layer_create(self._kind, _code(dtype), list(ins), list(outs), ranks, None, None,
                                       bool(bias), _seed(seed)))

    @property
    def ranks(self):
        """The core's shape: one rank per mode, input modes first."""
        return tuple(self._arrays["core"][0].shape)

    @classmethod
    def from_dense(cls, weight, bias=None, *, in_modes=None, out_modes=None, rank=None, eps=None,
                   budget=None, order=3, n_iter_max=None):
        """HOOI of ``weight`` seen as the tensor (in modes..., out modes...): one rank clipped to
        each mode, ``||W - W_hat||_F <= eps ||W||_F``, or the largest uniform rank fitting
        ``budget``. ``n_iter_max`` caps the HOOI sweeps (default 50)."""
        return cls._dense(weight, bias, in_modes, out_modes, rank, eps, budget, order, n_iter_max)

    def _describe(self):
        return f"{super()._describe()}, ranks={self.ranks}"


class TTTensorLinear(_Layer):
    """W, seen as the tensor (in modes..., out modes...), as a tensor train over those modes in
    that order: core k ``(r_{k-1}, mode_k, r_k)``, ``r_0 = r_end = 1`` (the TT-tensor weight of a
    tensor regression layer, ``TRL(..., factorization="tt")``).

    Unlike :class:`TTLinear` (a TT-matrix pairing in_k with out_k), the numbers of input and
    output modes may differ. ``rank`` is one int for every bond, the ``d + e - 1`` bond ranks,
    or ``d + e + 1`` ranks with 1 at both ends.
    """

    _kind = _ext.LAYER_TT_TENSOR

    def __init__(self, in_features, out_features, rank, bias=True, dtype=np.float32, seed=0, order=3):
        ins = _modes(in_features, "in_modes", order)
        outs = _modes(out_features, "out_modes", order)
        ranks = _tt_ranks(rank, len(ins) + len(outs), "TTTensorLinear")
        self._attach(_ext.layer_create(self._kind, _code(dtype), list(ins), list(outs), ranks, None, None,
                                       bool(bias), _seed(seed)))

    @property
    def ranks(self):
        """The d + e + 1 TT ranks (first and last 1)."""
        cores = [v for n, (v, _) in self._arrays.items() if n != "bias"]
        return tuple(c.shape[0] for c in cores) + (1,)

    @classmethod
    def from_dense(cls, weight, bias=None, *, in_modes=None, out_modes=None, rank=None, eps=None,
                   budget=None, order=3):
        """TT-SVD of ``weight`` (in_features, out_features) seen as the tensor (in modes...,
        out modes...): with a cap on every bond (``rank``), with ``||W - W_tt||_F <= eps
        ||W||_F``, or with the largest cap whose cores fit ``budget`` parameters."""
        return cls._dense(weight, bias, in_modes, out_modes, rank, eps, budget, order)

    def _describe(self):
        return f"{super()._describe()}, ranks={self.ranks}"


class TCL(_Layer):
    """Tensor contraction layer (Kossaifi et al. 2017): ``y = x x_1 U_1 x_2 U_2 ... x_N U_N``
    maps x of shape ``(batch, *input_shape)`` to ``(batch, *rank)``.

    Parameters ``factor_k`` of shape ``(rank[k], input_shape[k])`` (tensorly-torch's layout).
    ``input_shape`` is an int (one mode) or a sequence of modes; ``rank`` one int for every
    mode or one per mode (a rank may exceed its mode). The bias, of the output's size, is
    off by default as in tensorly-torch. As a linear layer, W is the Kronecker product of the
    factors: ``W[(i_1..i_N), (r_1..r_N)] = prod_k U_k[r_k, i_k]``.
    """

    _kind = _ext.LAYER_TCL

    def __init__(self, input_shape, rank, bias=False, dtype=np.float32, seed=0):
        ins = _shape(input_shape, "input_shape")
        ranks = _rank_list(rank, "rank")
        if len(ranks) == 1:
            ranks = ranks * len(ins)
        if len(ranks) != len(ins):
            raise ShapeError(f"rank {tuple(ranks)} has {len(ranks)} entries but input_shape {ins} has "
                             f"{len(ins)} modes; give one rank or one per mode")
        self._attach(_ext.layer_create(self._kind, _code(dtype), list(ins), None, ranks, None, None,
                                       bool(bias), _seed(seed)))

    @property
    def input_shape(self):
        return self.in_modes

    @property
    def rank(self):
        """The output modes, one per input mode."""
        return self.out_modes

    def _describe(self):
        return f"input_shape={self.in_modes}, rank={self.out_modes}"


class TRL(metaclass=abc.ABCMeta):
    """Tensor regression layer (Kossaifi et al. 2020): ``y[n, o...] = sum_i x[n, i...] W[i...,
    o...] + b`` with W, of shape ``(*input_shape, *output_shape)``, low-rank.

    ``TRL(input_shape, output_shape, rank, factorization)`` returns the layer with that weight:
    a :class:`CPLinear` (``"cp"``, ``rank`` an int), a :class:`TuckerLinear` (``"tucker"``,
    one rank clipped to each mode or one per mode, input modes first) or a
    :class:`TTTensorLinear` (``"tt"``, one rank or one per bond). Shapes are ints (one mode)
    or sequences of modes. The bias, of the output's size, is off by default as in
    tensorly-torch. ``isinstance(layer, TRL)`` holds for all three classes.
    """

    _classes = {"cp": CPLinear, "tucker": TuckerLinear, "tt": TTTensorLinear}

    @classmethod
    def _class(cls, factorization):
        if not isinstance(factorization, str) or factorization.lower() not in cls._classes:
            raise ArgumentError(f"factorization must be one of 'cp', 'tucker', 'tt' (got {factorization!r})")
        return cls._classes[factorization.lower()]

    def __new__(cls, input_shape, output_shape, rank, factorization="cp", bias=False, dtype=np.float32, seed=0):
        layer_class = cls._class(factorization)
        ins = _shape(input_shape, "input_shape")
        outs = _shape(output_shape, "output_shape")
        return layer_class(ins, outs, rank, bias=bias, dtype=dtype, seed=seed)

    @classmethod
    def from_dense(cls, weight, bias=None, *, input_shape, output_shape, factorization="cp", rank=None,
                   eps=None, budget=None, **options):
        """The layer of ``factorization`` fitted to ``weight``, either (in_features,
        out_features) or of shape ``(*input_shape, *output_shape)``: exactly one of ``rank``,
        ``eps`` or ``budget``, as that class's ``from_dense`` (CP-ALS, HOOI or TT-SVD; extra
        ``options`` such as ``n_iter_max`` go to it)."""
        layer_class = cls._class(factorization)
        ins = _shape(input_shape, "input_shape")
        outs = _shape(output_shape, "output_shape")
        if isinstance(weight, np.ndarray) and weight.shape == ins + outs and weight.ndim != 2:
            weight = weight.reshape(_prod(ins), _prod(outs))
        return layer_class.from_dense(weight, bias, in_modes=ins, out_modes=outs, rank=rank, eps=eps,
                                      budget=budget, **options)


for _c in TRL._classes.values():
    TRL.register(_c)


class EinsumLayer(_Layer):
    """Any tensor-network layer: ``equation`` names the input first (its first label or
    ``...`` is the batch), then the parameters, ``->`` and the output with the batch first.
    E.g. ``EinsumLayer("nij,aik,bjk->nab", [(32, 32, 2), (32, 32, 2)])`` maps 1024 -> 1024.
    Parameters are named "p0", "p1", ..."""

    _kind = _ext.LAYER_EINSUM

    def __init__(self, equation, param_shapes, bias=True, dtype=np.float32, seed=0):
        if not isinstance(equation, str):
            raise ArgumentError(f"equation must be a str, not {type(equation).__name__}")
        if isinstance(param_shapes, (str, bytes)) or not hasattr(param_shapes, "__iter__"):
            raise ArgumentError("param_shapes must be a sequence of shapes")
        shapes = [tuple(_index(s, f"param_shapes[{i}][{k}]") for k, s in enumerate(shape))
                  for i, shape in enumerate(param_shapes)]
        self.equation = equation
        self.param_shapes = shapes
        self._attach(_ext.layer_create(self._kind, _code(dtype), None, None, None, equation, shapes,
                                       bool(bias), _seed(seed)))

    def _attach(self, handle):
        if not hasattr(self, "equation"):  # made from a handle (a file, from_dense)
            config = json.loads(handle.describe())
            self.equation = config["equation"]
            self.param_shapes = [tuple(s) for s in config["parameter_shapes"]]
        super()._attach(handle)

    def _describe(self):
        return f"{self.equation!r}, {self.param_shapes}"


# ---------------------------------------------------------------------------- files

_LAYER_CLASSES = {Linear._kind: Linear, TTLinear._kind: TTLinear, CPLinear._kind: CPLinear,
                  TuckerLinear._kind: TuckerLinear, EinsumLayer._kind: EinsumLayer,
                  TTTensorLinear._kind: TTTensorLinear, TCL._kind: TCL}
_ACTIVATION_CLASSES = {0: Identity, 1: ReLU, 2: GELU, 3: Tanh, 4: Sigmoid}


def load(path):
    """A :class:`Sequential` from a model file (written by :meth:`Sequential.save`, a layer's
    ``save``, ``tn_model_save`` or Swift's ``Sequential.save``), validated in full: a
    truncated, corrupt or foreign file raises ValueError with the reason. The model starts in
    inference mode."""
    model = _ext.model_load(os.fspath(path))
    stages = []
    for kind, activation, p, handle in _ext.model_stages(model):
        if kind == _ext.STAGE_LAYER:
            stages.append(_LAYER_CLASSES[handle.info()["kind"]]._from_handle(handle))
        elif kind == _ext.STAGE_ACTIVATION:
            stages.append(_ACTIVATION_CLASSES[activation]())
        elif kind == _ext.STAGE_FLATTEN:
            stages.append(Flatten())
        else:
            stages.append(Dropout(p))
    return Sequential(*stages).eval()
