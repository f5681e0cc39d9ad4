"""Tensor-train recurrent layers (re-exported by :mod:`tnswift.nn`).

:class:`TTLSTM` and :class:`TTGRU` are PyTorch's single-layer, batch-first ``nn.LSTM`` and
``nn.GRU`` (Yang et al. 2017, TT-RNN) whose input-to-hidden weight W_ih
(input_size x G*hidden, G = 4 gates for the LSTM, 3 for the GRU) is a TT-matrix: core k
``core_k`` has shape (r_{k-1}, m_k, n_k, r_k), with input modes m_k (their product
input_size), output modes n_k (their product G*hidden) and r_0 = r_d = 1. The gates' input
part is computed for the whole sequence at once through the cores; only the dense
hidden-to-hidden product runs step by step. Each layer is one Swift ``TTLSTM`` / ``TTGRU``
behind a ``tn_rnn`` handle.
"""

import threading

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from ._arguments import dtype_code as _dtype_code, modes as _modes, positive as _positive
from ._arguments import prod as _prod, seed as _seed, tt_ranks as _tt_ranks
from ._layer_base import ParameterViews, check_same_thread

_PARAMS_DOC = """
    Args:
        input_size: features per time step: an int (split into ``order`` balanced modes) or
            the input modes themselves (a sequence; their product is input_size).
        hidden_size: the size of the hidden state h{cell}.
        rank: the TT rank of every bond, the d - 1 bond ranks, or d + 1 ranks with 1 at both
            ends.
        output_modes: the d modes of W_ih's columns (their product {gates} * hidden_size);
            default a balanced split of {gates} * hidden_size, largest first.
        order: the number of modes d when ``input_size`` is an int (default 3).
        dtype: float32 (default) or float64.
        seed: fixes the initialisation (PyTorch's: W_hh and both biases uniform in
            +-1/sqrt(hidden_size); the cores Gaussian, scaled so that each W_ih entry has that
            uniform's variance).

    Inputs are batch-first: x (batch, seq, input_size). States are PyTorch's (1, batch,
    hidden_size) (also accepted: (batch, hidden_size)).

    Parameters (:meth:`parameters` / :meth:`grads`, views of the layer's own storage):
    ``core_0`` .. ``core_{{d-1}}`` (W_ih), ``bias_ih`` ({gates} * hidden,), ``weight_hh``
    (hidden, {gates} * hidden), ``bias_hh`` ({gates} * hidden,). Columns are gate-major in
    PyTorch's order ({order_names}), then the hidden unit. Note that the weights are stored
    in x out: ``weight_hh`` is the **transpose** of PyTorch's ``weight_hh_l0``, and the W_ih
    rebuilt from the cores (input_size, {gates} * hidden) the transpose of ``weight_ih_l0``;
    ``bias_ih`` and ``bias_hh`` are PyTorch's ``bias_ih_l0`` and ``bias_hh_l0``.
"""


class _TTRecurrent(ParameterViews):
    """What TTLSTM and TTGRU share; subclasses set the kind and the gate count."""

    _kind = None
    _gates = None
    _has_cell = False

    def __init__(self, input_size, hidden_size, rank, output_modes=None, order=3, dtype=np.float32, seed=0):
        name = type(self).__name__
        ins = _modes(input_size, "input_size", order)
        hidden = _positive(hidden_size, "hidden_size")
        outs = None
        if output_modes is not None:
            if not hasattr(output_modes, "__iter__") or isinstance(output_modes, (str, bytes)):
                raise ArgumentError(f"output_modes must be a sequence of integers, not {type(output_modes).__name__}")
            outs = list(_modes(output_modes, "output_modes", len(ins)))
            if len(outs) != len(ins):
                raise ShapeError(f"{name} needs as many output modes as input modes (got input modes {ins} "
                                 f"and output modes {tuple(outs)})")
            if _prod(outs) != self._gates * hidden:
                raise ShapeError(f"{name}: output_modes {tuple(outs)} multiply to {_prod(outs)} but "
                                 f"{self._gates} gates * hidden_size {hidden} = {self._gates * hidden}")
        ranks = _tt_ranks(rank, len(ins), name)
        handle = _ext.rnn_create(self._kind, _dtype_code(dtype), hidden, list(ins), outs, ranks, _seed(seed))
        self._attach(handle)

    def _attach(self, handle):
        self._handle = handle
        info = handle.info()
        self.input_size = info["input_size"]
        self.hidden_size = info["hidden_size"]
        self.dtype = np.dtype(info["dtype"])
        self.n_params = info["parameter_count"]
        self.compression = info["compression"]
        self._arrays = {name: (np.asarray(data), np.asarray(grad)) for name, data, grad in handle.parameters()}
        cores = [self._arrays[f"core_{k}"][0] for k in range(info["n_modes"])]
        self.input_modes = tuple(c.shape[1] for c in cores)
        self.output_modes = tuple(c.shape[2] for c in cores)
        self.ranks = tuple(c.shape[0] for c in cores) + (1,)
        self._last = None

    # -- forward / backward

    def _state(self, value, name, batch):
        if value is None:
            return None
        s = self._input(value, name)
        if s.shape not in ((1, batch, self.hidden_size), (batch, self.hidden_size)):
            raise ShapeError(f"{name} has shape {s.shape} but the input needs (1, {batch}, {self.hidden_size}) "
                             f"or ({batch}, {self.hidden_size})")
        return s

    def _run(self, x, h0, c0):
        x = self._input(x, "x")
        if x.ndim != 3 or x.shape[2] != self.input_size:
            raise ShapeError(f"x has shape {x.shape} but {type(self).__name__} takes batch-first sequences "
                             f"(batch, seq, {self.input_size})")
        batch, steps = x.shape[0], x.shape[1]
        if batch == 0 or steps == 0:
            raise ShapeError(f"x has shape {x.shape}: the batch and the sequence must not be empty")
        h0 = self._state(h0, "h0", batch)
        c0 = self._state(c0, "c0", batch) if self._has_cell else None
        out = np.empty((batch, steps, self.hidden_size), dtype=self.dtype)
        h_n = np.empty((1, batch, self.hidden_size), dtype=self.dtype)
        c_n = np.empty_like(h_n) if self._has_cell else None
        self._handle.forward(x, h0, c0, out, h_n, c_n)
        self._last = (x.shape, h0 is not None and h0.ndim == 2, c0 is not None and c0.ndim == 2)
        self._thread = threading.get_ident()
        return out, h_n, c_n

    def _back(self, d_output, d_h_n, d_c_n, input_grad, initial_state_grads):
        if self._last is None:
            raise ArgumentError("backward() needs a forward() first: the gradients are taken at the last "
                                "forward's sequence")
        name = type(self).__name__
        check_same_thread(self._thread, name)
        (batch, steps, _), flat_h0, flat_c0 = self._last
        if d_output is not None:
            d_output = self._input(d_output, "d_output")
            if d_output.shape != (batch, steps, self.hidden_size):
                raise ShapeError(f"d_output has shape {d_output.shape} but the last forward returned an output "
                                 f"of shape {(batch, steps, self.hidden_size)}")
        d_h_n = self._state(d_h_n, "d_h_n", batch)
        d_c_n = self._state(d_c_n, "d_c_n", batch) if self._has_cell else None
        dx = np.empty((batch, steps, self.input_size), dtype=self.dtype) if input_grad else None
        dh0 = dc0 = None
        if initial_state_grads:
            dh0 = np.empty((batch, self.hidden_size) if flat_h0 else (1, batch, self.hidden_size), dtype=self.dtype)
            if self._has_cell:
                dc0 = np.empty((batch, self.hidden_size) if flat_c0 else (1, batch, self.hidden_size), dtype=self.dtype)
        self._handle.backward(d_output, d_h_n, d_c_n, dx, dh0, dc0)
        return dx, dh0, dc0

    def _describe(self):
        return (f"input_modes={self.input_modes}, hidden_size={self.hidden_size}, "
                f"output_modes={self.output_modes}, ranks={self.ranks}")

    def __repr__(self):
        return (f"{type(self).__name__}({self._describe()}, dtype={self.dtype}, n_params={self.n_params}, "
                f"compression={self.compression:.3g})")


class TTLSTM(_TTRecurrent):
    __doc__ = """A TT-LSTM: ``torch.nn.LSTM(input_size, hidden_size, batch_first=True)`` with W_ih
    a TT-matrix. With gates (i, f, g, o)::

        i, f, o = sigmoid(x W_i. + b_i. + h W_h. + b_h.),  g = tanh(x W_ig + b_ig + h W_hg + b_hg)
        c' = f * c + i * g,  h' = o * tanh(c')

    ``layer(x, h0=None, c0=None)`` returns ``(output, (h_n, c_n))`` as PyTorch does: output
    (batch, seq, hidden_size), h_n and c_n (1, batch, hidden_size); None states are zeros.
    ``layer.backward(d_output, d_h_n=None, d_c_n=None)`` fills :meth:`grads` (replacing what
    was there) and returns dx (batch, seq, input_size).
""" + _PARAMS_DOC.format(cell=" and of the cell c", gates=4, order_names="i, f, g, o")

    _kind = _ext.RNN_LSTM
    _gates = 4
    _has_cell = True

    def forward(self, x, h0=None, c0=None):
        """Runs the sequence x (batch, seq, input_size) from h0 and c0 (None: zeros) and returns
        ``(output, (h_n, c_n))``. The sequence is recorded (copied) for :meth:`backward`."""
        out, h_n, c_n = self._run(x, h0, c0)
        return out, (h_n, c_n)

    __call__ = forward

    def backward(self, d_output, d_h_n=None, d_c_n=None, input_grad=True, initial_state_grads=False):
        """Backpropagation through time of the last forward: the gradients of
        ``sum(output * d_output) + sum(h_n * d_h_n) + sum(c_n * d_c_n)`` (None counts as zeros)
        fill :meth:`grads`. Returns dx (None with ``input_grad=False``), or with
        ``initial_state_grads=True`` ``(dx, (dh0, dc0))``, dh0 and dc0 shaped like the forward's
        h0 and c0 ((1, batch, hidden_size) when they were None)."""
        dx, dh0, dc0 = self._back(d_output, d_h_n, d_c_n, input_grad, initial_state_grads)
        return (dx, (dh0, dc0)) if initial_state_grads else dx


class TTGRU(_TTRecurrent):
    __doc__ = """A TT-GRU: ``torch.nn.GRU(input_size, hidden_size, batch_first=True)`` with W_ih a
    TT-matrix. With gates (r, z, n)::

        r, z = sigmoid(x W_i. + b_i. + h W_h. + b_h.),  n = tanh(x W_in + b_in + r * (h W_hn + b_hn))
        h' = (1 - z) * n + z * h

    ``layer(x, h0=None)`` returns ``(output, h_n)`` as PyTorch does: output (batch, seq,
    hidden_size), h_n (1, batch, hidden_size); a None h0 is zeros.
    ``layer.backward(d_output, d_h_n=None)`` fills :meth:`grads` (replacing what was there) and
    returns dx (batch, seq, input_size).
""" + _PARAMS_DOC.format(cell="", gates=3, order_names="r, z, n")

    _kind = _ext.RNN_GRU
    _gates = 3

    def forward(self, x, h0=None):
        """Runs the sequence x (batch, seq, input_size) from h0 (None: zeros) and returns
        ``(output, h_n)``. The sequence is recorded (copied) for :meth:`backward`."""
        out, h_n, _ = self._run(x, h0, None)
        return out, h_n

    __call__ = forward

    def backward(self, d_output, d_h_n=None, input_grad=True, initial_state_grads=False):
        """Backpropagation through time of the last forward: the gradients of
        ``sum(output * d_output) + sum(h_n * d_h_n)`` (None counts as zeros) fill :meth:`grads`.
        Returns dx (None with ``input_grad=False``), or with ``initial_state_grads=True``
        ``(dx, dh0)``, dh0 shaped like the forward's h0 ((1, batch, hidden_size) when it was
        None)."""
        dx, dh0, _ = self._back(d_output, d_h_n, None, input_grad, initial_state_grads)
        return (dx, dh0) if initial_state_grads else dx
