"""`Sequential` models and the `fit` loop (tnswift.nn re-exports them).

The loop only orchestrates: every forward, backward, loss and update runs in the Swift core.
"""

import functools
import inspect
import os
import sys
import time

import numpy as np

from . import _ext
from ._ext import ArgumentError, ShapeError
from .activations import cross_entropy, mse_loss

__all__ = ["Sequential", "fit"]


class Sequential:
    """Layers and activations applied in order; ``backward`` runs them in reverse."""

    def __init__(self, *stages):
        if not stages:
            raise ArgumentError("Sequential needs at least one stage")
        for s in stages:
            if not (hasattr(s, "forward") and hasattr(s, "backward") and hasattr(s, "parameters")):
                raise ArgumentError(f"{type(s).__name__} is not a layer or an activation")
        self.stages = list(stages)

    def forward(self, x):
        for s in self.stages:
            x = s.forward(x)
        return x

    __call__ = forward

    def backward(self, dy, input_grad=True):
        """Gradients of sum(y * dy) for the last forward: fills every layer's grads() and
        returns dx — or, with ``input_grad=False``, skips the first stage's dx (the training
        loop's case) and returns None."""
        for i in range(len(self.stages) - 1, -1, -1):
            s = self.stages[i]
            if i == 0 and not input_grad:
                if _takes_input_grad(s):
                    s.backward(dy, input_grad=False)
                    return None
                s.backward(dy)
                return None
            dy = s.backward(dy)
        return dy

    def parameters(self):
        """``{"<stage>.<name>": array}``: views of every layer's parameters."""
        return {f"{i}.{k}": v for i, s in enumerate(self.stages) for k, v in s.parameters().items()}

    def grads(self):
        return {f"{i}.{k}": v for i, s in enumerate(self.stages) for k, v in s.grads().items()}

    @property
    def n_params(self):
        return sum(v.size for v in self.parameters().values())

    def train(self, mode=True):
        """Training mode (Dropout drops) or, with ``mode=False``, inference mode."""
        for s in self.stages:
            if hasattr(s, "train"):
                s.train(mode)
        return self

    def eval(self):
        """Inference mode: Dropout is the identity."""
        return self.train(False)

    def save(self, path):
        """Writes the model as safetensors (parameters + the architecture as JSON metadata),
        atomically: an interrupted save leaves any previous file at ``path`` intact. The file
        loads with :func:`tnswift.nn.load`, ``tn_model_load`` in C and ``Sequential.load`` in
        Swift."""
        _ext.model_save(self._model(), os.fspath(path))

    def _model(self):
        """A tn_model sharing this model's layers."""
        from .activations import _Activation, _KINDS
        from .stages import Dropout, Flatten

        described = []
        for i, s in enumerate(self.stages):
            if isinstance(s, _Activation):
                described.append((_ext.STAGE_ACTIVATION, _KINDS[s.kind], 0.0, None))
            elif isinstance(s, Flatten):
                described.append((_ext.STAGE_FLATTEN, 0, 0.0, None))
            elif isinstance(s, Dropout):
                described.append((_ext.STAGE_DROPOUT, 0, s.p, None))
            elif isinstance(getattr(s, "_handle", None), _ext.Layer):
                described.append((_ext.STAGE_LAYER, 0, 0.0, s._handle))
            elif isinstance(getattr(s, "_handle", None), _ext.Conv):
                raise ArgumentError(f"stage {i} ({type(s).__name__}) cannot be saved: model files hold linear "
                                    "layers only (no convolutions), activations, Flatten and Dropout")
            else:
                raise ArgumentError(f"stage {i} ({type(s).__name__}) cannot be saved: model files hold "
                                    "tnswift layers, activations, Flatten and Dropout")
        return _ext.model_create(described)

    def __repr__(self):
        return "Sequential(" + ", ".join(repr(s) for s in self.stages) + ")"


def _takes_input_grad(stage):
    """Whether ``stage.backward`` accepts ``input_grad`` (tnswift layers and Sequential do)."""
    return _backward_takes_input_grad(type(stage))


@functools.lru_cache(maxsize=None)
def _backward_takes_input_grad(cls):
    try:
        return "input_grad" in inspect.signature(cls.backward).parameters
    except (AttributeError, TypeError, ValueError):
        return False


def _set_mode(model, training):
    if hasattr(model, "train"):
        model.train(training)


def _progress(epoch, epochs, done, total, loss, rate, stream):
    width = 24
    filled = int(width * done / max(total, 1))
    stream.write(f"\repoch {epoch}/{epochs} [{'#' * filled}{'.' * (width - filled)}] "
                 f"loss {loss:.4f}  {rate:,.0f} samples/s")
    stream.flush()


def fit(model, optimizer, x, y, *, loss="cross_entropy", epochs=1, batch_size=128, shuffle=True,
        validation=None, patience=None, schedule=None, seed=0, progress=True, stream=None):
    """Trains ``model`` with ``optimizer`` on mini-batches of (x, y).

    ``loss`` is "cross_entropy" (y holds class indices; accuracy is reported) or "mse".
    ``validation=(x_val, y_val)`` is evaluated after every epoch; with ``patience`` the loop
    stops once the validation loss has not improved for that many epochs. ``schedule(epoch)``
    (epoch counted from 0), if given, sets the optimizer's learning rate before each epoch,
    e.g. :func:`tnswift.optim.cosine_schedule`. Batches run in
    training mode (Dropout drops), validation and the returned model in inference mode.
    Returns the history:
    ``{"loss": [...], "val_loss": [...], "val_accuracy": [...], "epochs": n, "seconds": s}``.
    """
    if loss not in ("cross_entropy", "mse"):
        raise ArgumentError(f"loss must be 'cross_entropy' or 'mse', not {loss!r}")
    x, y = np.asarray(x), np.asarray(y)
    if len(x) != len(y):
        raise ShapeError(f"x has {len(x)} samples but y has {len(y)}")
    if epochs < 0 or batch_size < 1:
        raise ArgumentError("epochs must be >= 0 and batch_size >= 1")
    if schedule is not None and not callable(schedule):
        raise ArgumentError("schedule must be a function of the epoch (from 0) giving the learning rate")
    criterion = cross_entropy if loss == "cross_entropy" else mse_loss
    stream = stream or sys.stderr
    rng = np.random.default_rng(seed)
    history = {"loss": [], "val_loss": [], "val_accuracy": [], "epochs": 0, "seconds": 0.0}
    best, waited = np.inf, 0
    start = time.perf_counter()
    for epoch in range(1, epochs + 1):
        _set_mode(model, True)
        if schedule is not None:
            optimizer.lr = schedule(epoch - 1)
        order = rng.permutation(len(x)) if shuffle else np.arange(len(x))
        total, seen, t0 = 0.0, 0, time.perf_counter()
        drawn = -np.inf
        for i in range(0, len(x), batch_size):
            batch = order[i:i + batch_size]
            value, grad = criterion(model(x[batch]), y[batch])
            if _takes_input_grad(model):
                model.backward(grad, input_grad=False)   # nobody needs d(loss)/d(images)
            else:
                model.backward(grad)
            optimizer.step()
            total += value * len(batch)
            seen += len(batch)
            now = time.perf_counter()
            # At most ~10 redraws a second, and always the last batch's.
            if progress and (now - drawn >= 0.1 or seen == len(x)):
                drawn = now
                _progress(epoch, epochs, seen, len(x), total / seen, seen / max(now - t0, 1e-9), stream)
        history["loss"].append(total / max(seen, 1))
        history["epochs"] = epoch
        if validation is not None:
            xv, yv = validation
            _set_mode(model, False)
            out = model(np.asarray(xv))
            val, _ = criterion(out, np.asarray(yv))
            history["val_loss"].append(val)
            if loss == "cross_entropy":
                history["val_accuracy"].append(float(np.mean(np.argmax(out, axis=1) == np.asarray(yv))))
            if val < best - 1e-12:
                best, waited = val, 0
            else:
                waited += 1
        if progress:
            extra = (f"  val_loss {history['val_loss'][-1]:.4f}" if history["val_loss"] else "") + (
                f"  val_acc {history['val_accuracy'][-1]:.4f}" if history["val_accuracy"] else "")
            stream.write(extra + "\n")
            stream.flush()
        if patience is not None and validation is not None and waited >= patience:
            break
    _set_mode(model, False)
    history["seconds"] = time.perf_counter() - start
    return history
