"""Optimizers that update layer parameters in place (PyTorch's SGD, Adam and AdamW rules),
computed in the Swift core.

An optimizer takes layers (anything with ``parameters()`` and ``grads()`` returning views of
the same storage, as ``tnswift.nn`` layers do) or ``(parameter, gradient)`` array pairs; each
``step()`` applies one update from the gradients the last ``backward`` wrote.
"""

import math

import numpy as np

from . import _ext
from ._ext import ArgumentError, DTypeError

__all__ = ["SGD", "Adam", "AdamW", "cosine_schedule"]


class _Optimizer:
    _kind = 0

    def __init__(self, params, lr, momentum=0.0, nesterov=False, betas=(0.9, 0.999), eps=1e-8,
                 weight_decay=0.0):
        pairs = []
        for p in params:
            if hasattr(p, "parameters") and hasattr(p, "grads"):
                values, grads = p.parameters(), p.grads()
                pairs += [(values[k], grads[k]) for k in values]
            else:
                pairs.append(tuple(p))
        if not pairs:
            raise ArgumentError("the optimizer got no parameters")
        dtypes = {a.dtype for pair in pairs for a in pair}
        if len(dtypes) != 1 or next(iter(dtypes)) not in (np.float32, np.float64):
            raise DTypeError(f"parameters and gradients must all be float32 or all float64 (got {sorted(map(str, dtypes))})")
        self._dtype = next(iter(dtypes))
        self._params = [p for p, _ in pairs]
        self._grads = [g for _, g in pairs]
        b1, b2 = betas
        self._lr = float(lr)
        self._handle = _ext.optimizer_create(self._kind, _ext.FLOAT32 if self._dtype == np.float32 else _ext.FLOAT64,
                                             float(lr), float(momentum), bool(nesterov), float(b1), float(b2),
                                             float(eps), float(weight_decay), [p.size for p in self._params])

    @property
    def lr(self):
        """The learning rate; set it between steps for a schedule."""
        return self._lr

    @lr.setter
    def lr(self, value):
        _ext.optimizer_set_lr(self._handle, float(value))
        self._lr = float(value)

    def step(self):
        """One update of every parameter from its gradient (in place)."""
        _ext.optimizer_step(self._handle, _ext.FLOAT32 if self._dtype == np.float32 else _ext.FLOAT64,
                            self._params, self._grads)


class SGD(_Optimizer):
    """``torch.optim.SGD``: momentum (first step's buffer = gradient), Nesterov, L2 decay."""
    _kind = 0

    def __init__(self, params, lr, momentum=0.0, weight_decay=0.0, nesterov=False):
        super().__init__(params, lr, momentum=momentum, nesterov=nesterov, weight_decay=weight_decay)


class Adam(_Optimizer):
    """``torch.optim.Adam`` (weight decay added to the gradient)."""
    _kind = 1

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)


class AdamW(_Optimizer):
    """``torch.optim.AdamW`` (decoupled weight decay)."""
    _kind = 2

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.01):
        super().__init__(params, lr, betas=betas, eps=eps, weight_decay=weight_decay)


def cosine_schedule(lr, epochs, final=0.0):
    """Cosine decay from ``lr`` at epoch 0 to ``final`` at the last of ``epochs`` epochs: a
    function of the epoch for :func:`tnswift.nn.fit`'s ``schedule``."""
    lr, final = float(lr), float(final)
    if epochs < 1:
        raise ArgumentError(f"epochs must be >= 1 (got {epochs})")
    span = max(epochs - 1, 1)
    return lambda epoch: final + (lr - final) * 0.5 * (1 + math.cos(math.pi * min(epoch, span) / span))
