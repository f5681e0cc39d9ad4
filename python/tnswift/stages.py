"""Stages without parameters that are not activations: `Flatten` and `Dropout`
(tnswift.nn re-exports them). Both are the identity on (batch, features) rows at inference,
which is how a saved model runs them from C and Swift.
"""

import numpy as np

from ._ext import ArgumentError, ShapeError

__all__ = ["Flatten", "Dropout"]


class Flatten:
    """(batch, d1, d2, ...) -> (batch, d1 * d2 * ...); backward restores the shape."""

    def __init__(self):
        self._shape = None

    def forward(self, x):
        x = np.asarray(x)
        if x.ndim < 1:
            raise ShapeError("Flatten needs at least a batch dimension (got a 0-d array)")
        self._shape = x.shape
        return x.reshape(x.shape[0], -1) if x.shape[0] else x.reshape(0, int(np.prod(x.shape[1:])))

    __call__ = forward

    def backward(self, dy):
        if self._shape is None:
            raise ArgumentError("Flatten.backward() needs a forward() first")
        dy = np.asarray(dy)
        if dy.size != int(np.prod(self._shape)):
            raise ShapeError(f"dy has shape {dy.shape} but the last forward's x has shape {self._shape}")
        return dy.reshape(self._shape)

    def parameters(self):
        return {}

    def grads(self):
        return {}

    def __repr__(self):
        return "Flatten()"


class Dropout:
    """Zeroes each element with probability ``p`` in training and scales the rest by
    1 / (1 - p), so inference (``eval()``) is the identity. The mask comes from a NumPy
    generator seeded with ``seed``, so runs are reproducible."""

    def __init__(self, p=0.5, seed=0):
        p = float(p)
        if not (0 <= p < 1):
            raise ArgumentError(f"the dropout probability p must be in [0, 1) (got {p})")
        self.p = p
        self.training = True
        self._rng = np.random.default_rng(seed)
        self._scale = None

    def train(self, mode=True):
        self.training = bool(mode)
        return self

    def eval(self):
        return self.train(False)

    def forward(self, x):
        x = np.asarray(x)
        if not self.training or self.p == 0:
            self._scale = None
            return x
        keep = self._rng.random(x.shape) >= self.p
        self._scale = keep.astype(x.dtype) / x.dtype.type(1 - self.p)
        return x * self._scale

    __call__ = forward

    def backward(self, dy):
        dy = np.asarray(dy)
        if self._scale is None:
            return dy
        if dy.shape != self._scale.shape:
            raise ShapeError(f"dy has shape {dy.shape} but the last forward's x has shape {self._scale.shape}")
        return dy * self._scale

    def parameters(self):
        return {}

    def grads(self):
        return {}

    def __repr__(self):
        return f"Dropout(p={self.p})"
