"""Element-wise activations and losses, computed in the Swift core (tnswift.nn re-exports them).

Activations keep their last input for ``backward``; losses return the mean loss and its
gradient with respect to the prediction, as PyTorch's ``reduction="mean"`` defines it.
"""

import threading

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from ._layer_base import check_same_thread
from ._operands import as_float_array

__all__ = ["Identity", "ReLU", "GELU", "Tanh", "Sigmoid", "cross_entropy", "mse_loss"]

_KINDS = {"identity": 0, "relu": 1, "gelu": 2, "tanh": 3, "sigmoid": 4}


class _Activation:
    kind = "identity"

    def __init__(self):
        self._x = None

    def forward(self, x):
        """f(x), element-wise; x is kept (by reference) for :meth:`backward`."""
        x = np.ascontiguousarray(as_float_array("x", x))
        y = np.empty_like(x)
        _ext.activation_forward(_KINDS[self.kind], x, y)
        self._x = x
        self._x_thread = threading.get_ident()
        return y

    __call__ = forward

    def backward(self, dy):
        """f'(x) * dy for the last forward's x."""
        if self._x is None:
            raise ArgumentError(f"{type(self).__name__}.backward() needs a forward() first")
        check_same_thread(self._x_thread, type(self).__name__)
        dy = np.ascontiguousarray(np.asarray(dy, dtype=self._x.dtype))
        if dy.shape != self._x.shape:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward's x has shape {self._x.shape}")
        dx = np.empty_like(dy)
        _ext.activation_backward(_KINDS[self.kind], self._x, dy, dx)
        return dx

    def parameters(self):
        return {}

    def grads(self):
        return {}

    def __repr__(self):
        return f"{type(self).__name__}()"


class Identity(_Activation):
    """f(x) = x (a placeholder stage; saved and loaded like the other activations)."""
    kind = "identity"


class ReLU(_Activation):
    """max(x, 0)."""
    kind = "relu"


class GELU(_Activation):
    """x · Φ(x), the exact (erf-based) GELU."""
    kind = "gelu"


class Tanh(_Activation):
    """tanh(x)."""
    kind = "tanh"


class Sigmoid(_Activation):
    """1 / (1 + e^-x)."""
    kind = "sigmoid"


def cross_entropy(logits, labels):
    """Mean softmax cross-entropy of ``logits`` (batch, classes) against integer ``labels``
    (batch,) in [0, classes). Returns ``(loss, dlogits)``."""
    logits = np.ascontiguousarray(as_float_array("logits", logits))
    if logits.ndim != 2:
        raise ShapeError(f"logits must be (batch, classes), got shape {logits.shape}")
    labels = np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise ArgumentError(f"labels must be integers, got {labels.dtype}")
    if labels.shape != (logits.shape[0],):
        raise ShapeError(f"labels must have shape ({logits.shape[0]},), got {labels.shape}")
    labels = np.ascontiguousarray(labels, dtype=np.int32)
    grad = np.empty_like(logits)
    return _ext.cross_entropy(logits, labels, grad), grad


def mse_loss(pred, target):
    """Mean squared error; returns ``(loss, dpred)``."""
    pred = np.ascontiguousarray(as_float_array("pred", pred))
    target = np.ascontiguousarray(np.asarray(target, dtype=pred.dtype))
    if target.shape != pred.shape:
        raise ShapeError(f"target has shape {target.shape} but pred has shape {pred.shape}")
    grad = np.empty_like(pred)
    return _ext.mse(pred, target, grad), grad
