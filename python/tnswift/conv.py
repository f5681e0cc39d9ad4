"""2-D convolutions whose kernel is a tensor network (re-exported by :mod:`tnswift.nn`).

Every layer is one Swift ``ConvLayer`` behind a ``tn_conv`` handle; this module only
normalises arguments. Arrays are NCHW, as in PyTorch: ``x`` (N, C, H, W) gives
``y`` (N, O, H', W') with ``torch.nn.functional.conv2d``'s semantics (cross-correlation,
``stride``, zero ``padding`` -- an int, a pair, ``"same"`` (stride 1) or ``"valid"`` -- and
``dilation``).

- :class:`Conv2d` -- a dense kernel ``weight`` (O, C, kh, kw).
- :class:`CPConv2d` -- ``K[o, c, i, j] = sum_r w_r prod U_out_k[o_k, r] prod U_in_k[c_k, r]
  U_h[i, r] U_w[j, r]``; parameters ``weights`` (rank,), then ``factor_k`` (mode, rank) for
  the output-channel modes, the input-channel modes, kh and kw (tensorly-torch's layout).
- :class:`TuckerConv2d` -- Tucker-2: ``core`` (r_out, r_in, kh, kw), ``factor_0`` (O, r_out),
  ``factor_1`` (C, r_in).
- :class:`TTConv2d` -- Garipov et al.: ``core_0`` (kh, kw, r_0), then ``core_k``
  (r_{k-1}, c_k, o_k, r_k) over the channel modes.

``layer(x)`` returns y; ``layer.backward(dy)`` fills every parameter gradient (overwriting
the previous ones) and returns dx (``backward(dy, input_grad=False)`` skips dx and returns
None, as the linear layers do). ``parameters()`` and ``grads()`` are NumPy arrays that
*are* the layer's storage. A factorized layer runs either its own structure (1 x 1,
depthwise or small convolutions on the factors) or the dense kernel contracted from the
factors, whichever is cheaper for the input shape; ``to_dense()`` gives that kernel.
"""

import threading

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from ._arguments import dtype_code as _dtype_code, modes as _modes, positive as _positive, prod as _prod
from ._arguments import dense_operand, matching_bias, rank_list as _ranks, seed as _seed
from ._layer_base import ParameterViews, check_same_thread
from .decompose import _index

__all__ = ["Conv2d", "CPConv2d", "TuckerConv2d", "TTConv2d"]

_PADDING_MODES = {"same": _ext.CONV_PAD_SAME, "valid": _ext.CONV_PAD_VALID}


def _pair(value, name, minimum):
    """An int or a pair of ints, each at least ``minimum``, as a pair."""
    if isinstance(value, (str, bytes)):
        raise ArgumentError(f"{name} must be an integer or a pair of integers, not {value!r}")
    if hasattr(value, "__iter__"):
        items = tuple(value)
        if len(items) != 2:
            raise ArgumentError(f"{name} must be an integer or a pair of integers (got {len(items)} values)")
        pair = tuple(_index(v, f"{name}[{i}]") for i, v in enumerate(items))
    else:
        v = _index(value, name)
        pair = (v, v)
    if min(pair) < minimum:
        raise ArgumentError(f"{name} must be at least {minimum} (got {pair})")
    return pair


def _padding(value):
    """(padding pair, tn_conv_padding mode, the value as the layer reports it)."""
    if isinstance(value, str):
        mode = _PADDING_MODES.get(value.lower())
        if mode is None:
            raise ArgumentError(f"padding must be an int, a pair of ints, 'same' or 'valid' (got {value!r})")
        return (0, 0), mode, value.lower()
    pair = _pair(value, "padding", 0)
    return pair, _ext.CONV_PAD_EXPLICIT, pair


class _Conv(ParameterViews):
    """What every convolution shares; subclasses only build the handle."""

    _kind = None

    def _attach(self, handle, padding, modes=None):
        self._handle = handle
        info = handle.info()
        self.in_channels = info["in_channels"]
        self.out_channels = info["out_channels"]
        self.kernel_size = tuple(info["kernel_size"])
        self.stride = tuple(info["stride"])
        self.dilation = tuple(info["dilation"])
        self.padding = padding
        self.applied_padding = tuple(info["padding"])
        self.dtype = np.dtype(info["dtype"])
        self.bias = info["has_bias"]
        self.n_params = info["parameter_count"]
        self.compression = info["compression"]
        self._arrays = {name: (np.asarray(data), np.asarray(grad)) for name, data, grad in handle.parameters()}
        # (input-channel modes, output-channel modes)
        self._modes = modes or ((self.in_channels,), (self.out_channels,))
        self._x = None

    @classmethod
    def _from_handle(cls, handle, padding, modes=None):
        layer = cls.__new__(cls)
        layer._attach(handle, padding, modes)
        return layer

    @staticmethod
    def _create(kind, in_channels, out_channels, kernel_size, stride, padding, dilation, in_modes, out_modes,
                ranks, bias, dtype, seed):
        pad, mode, shown = _padding(padding)
        handle = _ext.conv_create(kind, _dtype_code(dtype), in_channels, out_channels,
                                  list(_pair(kernel_size, "kernel_size", 1)), list(_pair(stride, "stride", 1)),
                                  list(_pair(dilation, "dilation", 1)), list(pad), mode, in_modes, out_modes, ranks,
                                  bool(bias), _seed(seed))
        return handle, shown

    # -- forward / backward

    def output_shape(self, input_shape):
        """(N, out_channels, H', W') for an input of shape (N, in_channels, H, W)."""
        shape = tuple(input_shape)
        if len(shape) != 4:
            raise ShapeError(f"the input has shape {shape} but the layer takes (batch, {self.in_channels}, height, width)")
        return self._handle.output_shape([_index(s, "input_shape") for s in shape])

    def forward(self, x):
        """``y = conv2d(x, K) + b`` for x of shape (N, in_channels, H, W), any strides. x is
        kept (by reference) for :meth:`backward`."""
        x = self._input(x, "x")
        y = np.empty(self.output_shape(x.shape), dtype=self.dtype)
        self._handle.forward(x, y)
        self._x = x
        self._x_thread = threading.get_ident()
        return y

    __call__ = forward

    def backward(self, dy, input_grad=True):
        """Gradients of ``sum(y * dy)`` for the last forward: fills :meth:`grads` (replacing
        what was there) and returns dx, shaped like that forward's x — or, with
        ``input_grad=False`` (a network's first layer), skips dx and returns None."""
        if self._x is None:
            raise ArgumentError("backward() needs a forward() first: the gradients are taken at "
                                "the last forward's input")
        check_same_thread(self._x_thread, type(self).__name__)
        x = self._x
        dy = self._input(dy, "dy")
        expected = self.output_shape(x.shape)
        if dy.shape != expected:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward returned y of shape {expected}")
        if not input_grad:
            self._handle.backward(dy, x, None)
            return None
        dx = np.empty(x.shape, dtype=self.dtype)
        self._handle.backward(dy, x, dx)
        return dx

    def to_dense(self):
        """The kernel K as an (out_channels, in_channels, kh, kw) array."""
        k = np.empty((self.out_channels, self.in_channels) + self.kernel_size, dtype=self.dtype)
        self._handle.dense_kernel(k)
        return k

    def _describe(self):
        return f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}"

    def __repr__(self):
        return (f"{type(self).__name__}({self._describe()}, stride={self.stride}, padding={self.padding!r}, "
                f"dilation={self.dilation}, bias={self.bias}, dtype={self.dtype}, n_params={self.n_params}, "
                f"compression={self.compression:.3g})")

    # -- from a dense kernel

    @classmethod
    def _dense(cls, kernel, bias, stride, padding, dilation, in_modes, out_modes, ranks, eps, n_iter_max):
        kernel = dense_operand(kernel, "kernel", 4, "(out_channels, in_channels, kh, kw)")
        bias = matching_bias(bias, "kernel", kernel, kernel.shape[0])
        if cls._kind != _ext.CONV_DENSE and (ranks is None) == (eps is None):
            raise ArgumentError(f"{cls.__name__}.from_dense needs exactly one of rank or eps")
        e = -1.0
        if eps is not None:
            e = float(eps)
            if not (np.isfinite(e) and e >= 0):
                raise ArgumentError(f"eps must be finite and non-negative (got {eps!r})")
        iters = 0 if n_iter_max is None else _positive(n_iter_max, "n_iter_max")
        pad, mode, shown = _padding(padding)
        handle = _ext.conv_from_dense(cls._kind, kernel, bias, list(_pair(stride, "stride", 1)),
                                      list(_pair(dilation, "dilation", 1)), list(pad), mode, in_modes, out_modes,
                                      ranks, e, iters)
        modes = (tuple(in_modes or (kernel.shape[1],)), tuple(out_modes or (kernel.shape[0],)))
        return cls._from_handle(handle, shown, modes)


class Conv2d(_Conv):
    """Dense convolution, PyTorch's ``Conv2d``: parameter ``weight`` (O, C, kh, kw)."""

    _kind = _ext.CONV_DENSE

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding=0, dilation=1, bias=True,
                 dtype=np.float32, seed=0):
        c, o = _positive(in_channels, "in_channels"), _positive(out_channels, "out_channels")
        self._attach(*self._create(self._kind, c, o, kernel_size, stride, padding, dilation, None, None, None,
                                   bias, dtype, seed))

    @classmethod
    def from_dense(cls, kernel, bias=None, *, stride=1, padding=0, dilation=1):
        """A Conv2d holding a copy of ``kernel`` (O, C, kh, kw) and ``bias``."""
        return cls._dense(kernel, bias, stride, padding, dilation, None, None, None, None, None)


class CPConv2d(_Conv):
    """CP convolution (tensorly-torch's layout). ``in_channels`` / ``out_channels`` are ints
    (split into ``order`` balanced modes; order 1 keeps them whole) or mode sequences."""

    _kind = _ext.CONV_CP

    def __init__(self, in_channels, out_channels, kernel_size, rank, stride=1, padding=0, dilation=1, bias=True,
                 dtype=np.float32, seed=0, order=1):
        ins, outs = _modes(in_channels, "in_modes", order), _modes(out_channels, "out_modes", order)
        self._attach(*self._create(self._kind, _prod(ins), _prod(outs), kernel_size, stride, padding, dilation,
                                   list(ins), list(outs), [_positive(rank, "rank")], bias, dtype, seed), (ins, outs))

    @property
    def rank(self):
        return self._arrays["weights"][0].shape[0]

    @property
    def in_modes(self):
        """The input-channel modes (one per input factor)."""
        return self._modes[0]

    @property
    def out_modes(self):
        """The output-channel modes (the first factors)."""
        return self._modes[1]

    @classmethod
    def from_dense(cls, kernel, bias=None, *, stride=1, padding=0, dilation=1, rank=None, eps=None, in_modes=None,
                   out_modes=None, order=1, n_iter_max=None):
        """CP-ALS (SVD start) of ``kernel`` (O, C, kh, kw) seen as (out modes..., in modes...,
        kh, kw): with ``rank`` or the smallest rank whose relative error is at most ``eps``."""
        k = np.asarray(kernel)
        ins = None if in_modes is None and order == 1 else list(_modes(k.shape[1] if in_modes is None else in_modes,
                                                                      "in_modes", order))
        outs = None if out_modes is None and order == 1 else list(_modes(k.shape[0] if out_modes is None else out_modes,
                                                                        "out_modes", order))
        ranks = None if rank is None else [_positive(rank, "rank")]
        return cls._dense(kernel, bias, stride, padding, dilation, ins, outs, ranks, eps, n_iter_max)

    def _describe(self):
        return f"{self.out_modes!r} <- {self.in_modes!r}, kernel_size={self.kernel_size}, rank={self.rank}"


class TuckerConv2d(_Conv):
    """Tucker-2 convolution: ``rank`` is one int (clipped to each side) or (r_out, r_in)."""

    _kind = _ext.CONV_TUCKER

    def __init__(self, in_channels, out_channels, kernel_size, rank, stride=1, padding=0, dilation=1, bias=True,
                 dtype=np.float32, seed=0):
        c, o = _positive(in_channels, "in_channels"), _positive(out_channels, "out_channels")
        ranks = _ranks(rank, "rank")
        if len(ranks) not in (1, 2):
            raise ArgumentError(f"rank must be one int or (r_out, r_in) (got {len(ranks)} values)")
        self._attach(*self._create(self._kind, c, o, kernel_size, stride, padding, dilation, None, None, ranks,
                                   bias, dtype, seed))

    @property
    def ranks(self):
        """(r_out, r_in)."""
        return tuple(self._arrays["core"][0].shape[:2])

    @classmethod
    def from_dense(cls, kernel, bias=None, *, stride=1, padding=0, dilation=1, rank=None, eps=None, n_iter_max=None):
        """HOOI of ``kernel`` (O, C, kh, kw) on its channel modes: ``rank`` (one int or
        (r_out, r_in)) or ``||K - K_hat||_F <= eps ||K||_F``."""
        ranks = None if rank is None else _ranks(rank, "rank")
        if ranks is not None and len(ranks) not in (1, 2):
            raise ArgumentError(f"rank must be one int or (r_out, r_in) (got {len(ranks)} values)")
        return cls._dense(kernel, bias, stride, padding, dilation, None, None, ranks, eps, n_iter_max)

    def _describe(self):
        return f"{super()._describe()}, ranks={self.ranks}"


class TTConv2d(_Conv):
    """TT convolution (Garipov et al. 2016). ``in_channels`` / ``out_channels`` are ints
    (split into ``order`` balanced modes) or mode sequences of the same length; ``rank`` is
    one int or d ranks (r_0 for the spatial core, then the d - 1 bonds)."""

    _kind = _ext.CONV_TT

    def __init__(self, in_channels, out_channels, kernel_size, rank, stride=1, padding=0, dilation=1, bias=True,
                 dtype=np.float32, seed=0, order=2):
        ins, outs = _modes(in_channels, "in_modes", order), _modes(out_channels, "out_modes", order)
        if len(ins) != len(outs):
            raise ShapeError(f"TTConv2d needs as many input as output modes (got {ins} and {outs})")
        ranks = _ranks(rank, "rank")
        if len(ranks) not in (1, len(ins)):
            raise ShapeError(f"rank has {len(ranks)} entries; TTConv2d with {len(ins)} modes takes one or {len(ins)}")
        self._attach(*self._create(self._kind, _prod(ins), _prod(outs), kernel_size, stride, padding, dilation,
                                   list(ins), list(outs), ranks, bias, dtype, seed), (ins, outs))

    @property
    def ranks(self):
        """(r_0, r_1, ..., r_{d-1}): the spatial rank, then the bonds."""
        d = len(self.in_modes)
        return (self._arrays["core_0"][0].shape[2],) + tuple(self._arrays[f"core_{k}"][0].shape[3] for k in range(1, d))

    @property
    def in_modes(self):
        """The input-channel modes c_k."""
        return self._modes[0]

    @property
    def out_modes(self):
        """The output-channel modes o_k."""
        return self._modes[1]

    @classmethod
    def from_dense(cls, kernel, bias=None, *, stride=1, padding=0, dilation=1, rank=None, eps=None, in_modes=None,
                   out_modes=None, order=2):
        """TT-SVD of ``kernel`` (O, C, kh, kw) as (kh kw, c_1 o_1, ..., c_d o_d): a cap
        ``rank`` on every rank, or ``||K - K_hat||_F <= eps ||K||_F``."""
        k = np.asarray(kernel)
        if k.ndim != 4:
            raise ShapeError(f"kernel has shape {k.shape}; expected (out_channels, in_channels, kh, kw)")
        ins = list(_modes(k.shape[1] if in_modes is None else in_modes, "in_modes", order))
        outs = list(_modes(k.shape[0] if out_modes is None else out_modes, "out_modes", order))
        ranks = None if rank is None else [_positive(rank, "rank")]
        return cls._dense(kernel, bias, stride, padding, dilation, ins, outs, ranks, eps, None)

    def _describe(self):
        return f"{self.out_modes!r} <- {self.in_modes!r}, kernel_size={self.kernel_size}, ranks={self.ranks}"
