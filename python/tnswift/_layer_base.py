"""What layers and convolutions share on the Python side: their parameters and gradients as
views of the Swift storage, the input dtype rule, and the threading rule for the last
forward's input, which they keep for backward."""

import threading

import numpy as np

from ._ext import ArgumentError, DTypeError


def check_same_thread(forward_thread, who):
    """Backward must run on the thread that made the last forward, so that two threads sharing
    a layer cannot silently take gradients at each other's inputs."""
    if forward_thread != threading.get_ident():
        raise ArgumentError(
            f"{who}.backward() runs on another thread than the last forward(): the gradients would be "
            "taken at that other thread's input. Share a layer between threads for inference only, "
            "or make each forward/backward pair atomic (a lock, or one layer per thread)")


class ParameterViews:
    """Needs ``self._arrays`` ({name: (value view, gradient view)}) and ``self.dtype``."""

    def parameters(self):
        """``{name: array}``: views of the layer's parameters (the bias last, as "bias")."""
        return {name: pair[0] for name, pair in self._arrays.items()}

    def grads(self):
        """``{name: array}``: views of the gradients the last :meth:`backward` wrote."""
        return {name: pair[1] for name, pair in self._arrays.items()}

    def zero_grad(self):
        """Sets every gradient to zero."""
        for _, grad in self._arrays.values():
            grad[...] = 0

    def _input(self, x, name):
        """x as an array of the layer's dtype: lists and integer arrays convert, other float
        dtypes raise (no silent casts)."""
        if not isinstance(x, np.ndarray):
            x = np.asarray(x)
            if x.dtype.kind in "biuf":
                x = x.astype(self.dtype, copy=False)
        if x.dtype != self.dtype:
            raise DTypeError(f"{name} has dtype {x.dtype} but the layer is {self.dtype}; "
                             f"convert it with {name}.astype(np.{self.dtype})")
        return x
