"""Operand normalisation: the only place that decides which arrays reach the engine.

Accepted: float32 and float64 (any array-like ``np.asarray`` turns into one). Mixed float32 and
float64 operands promote to float64, as NumPy does. Arrays in non-native byte order or with byte
strides that are not multiples of the itemsize are copied (a layout change, never a value
change). Everything else raises DTypeError naming the operand and what was given.
"""

import numpy as np

from ._ext import ArgumentError, DTypeError, ShapeError
from ._options import FLOAT32_DTYPE, FLOAT64_DTYPE

__all__ = ["prepare_operands", "as_float_array", "check_out"]

_ndarray = np.ndarray
_asarray = np.asarray
_F32 = FLOAT32_DTYPE
_F64 = FLOAT64_DTYPE
_ACCEPTED = "float32 or float64"


def _article(word):
    return ("an " if word[:1] in "aeiouAEIOU" else "a ") + word


def _unsupported(name, given, array):
    """The DTypeError for ``given`` (the caller's object) that became ``array``."""
    if type(given) is _ndarray or isinstance(given, np.generic):
        what = f"{name} has dtype {array.dtype}"
    else:
        what = f"{name} is {_article(type(given).__name__)} (converted to dtype {array.dtype})"
    if array.dtype.kind in "biucf":
        hint = "; convert it with .astype(np.float32) or .astype(np.float64)"
    else:
        hint = ""
    return DTypeError(f"{what}; tnswift accepts {_ACCEPTED} arrays only{hint}")


def as_float_array(name, given):
    """Return ``given`` as a native, aligned float32/float64 ndarray (copying only for layout)."""
    if type(given) is _ndarray:
        array = given
    else:
        if given is None:
            raise DTypeError(f"{name} is None; expected a {_ACCEPTED} array")
        try:
            array = _asarray(given)
        except (TypeError, ValueError) as exc:
            raise DTypeError(
                f"{name} ({type(given).__name__}) cannot be converted to a {_ACCEPTED} array: {exc}"
            ) from exc
    dtype = array.dtype
    if dtype.kind != "f" or dtype.itemsize not in (4, 8):
        raise _unsupported(name, given, array)
    if not dtype.isnative:
        array = array.astype(dtype.newbyteorder("="))
    elif not array.flags.aligned:
        array = array.copy()
    return array


def prepare_operands(operands, noun="operand"):
    """Normalise operands; return ``(arrays_tuple, result_dtype)``.

    The result dtype is float64 if any operand is float64 (float32 operands are then converted),
    float32 if all are float32, float64 when there are no operands.
    """
    # Fast path: aligned native float32/float64 ndarrays of one dtype pass through untouched.
    narrow = wide = False
    for given in operands:
        if type(given) is not _ndarray:
            break
        dtype = given.dtype
        if dtype is _F32:
            narrow = True
        elif dtype is _F64:
            wide = True
        else:
            break
        if not given.flags.aligned:
            break
    else:
        if not (narrow and wide):
            return tuple(operands), (_F32 if narrow else _F64)
    return _prepare_slow(operands, noun)


def _prepare_slow(operands, noun):
    arrays = []
    wide = narrow = False
    for i, given in enumerate(operands):
        array = as_float_array(f"{noun} {i}", given)
        if array.dtype.itemsize == 8:
            wide = True
        else:
            narrow = True
        arrays.append(array)
    if wide and narrow:
        arrays = [a if a.dtype.itemsize == 8 else a.astype(_F64) for a in arrays]
    dtype = _F32 if narrow and not wide else _F64
    return tuple(arrays), dtype


def check_out(out, shape, dtype):
    """Validate a caller-provided ``out`` array against the result's shape and dtype."""
    if not isinstance(out, _ndarray):
        raise ArgumentError(f"out must be a numpy.ndarray, not {type(out).__name__}")
    if not out.flags.writeable:
        raise ArgumentError("out is read-only")
    if out.shape != tuple(shape):
        raise ShapeError(f"out has shape {out.shape}; the result has shape {tuple(shape)}")
    if out.dtype != dtype:
        raise DTypeError(f"out has dtype {out.dtype}; the result has dtype {dtype}")
