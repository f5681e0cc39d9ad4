"""Prepared contractions: ``contract_expression`` and ``ContractExpression``."""

import operator

import numpy as np

from ._ext import ArgumentError, DTypeError, Plan, ShapeError, TNError
from ._operands import check_out
from ._options import dtype_code, memory_limit_value, optimize_code, planning_dtype
from ._pathinfo import PathInfo

__all__ = ["contract_expression", "ContractExpression"]

_empty = np.empty
_ndarray = np.ndarray


class ContractExpression:
    """A contraction planned once for fixed shapes and one dtype, then called many times.

    Create it with :func:`contract_expression`. Calling it contracts arrays of exactly the
    planned shapes and dtype (arrays are never cast; a dtype mismatch raises DTypeError);
    :meth:`backward` returns the gradients of ``sum(out * dy)`` with respect to the operands.
    Expressions may be called from several threads at once.
    """

    __slots__ = ("eq", "shapes", "dtype", "output_shape", "info", "_plan", "_execute",
                 "_backward", "_n")

    def __init__(self, eq, shapes, dtype, optimize, memory_limit):
        self.eq = eq
        self.shapes = shapes
        self.dtype = dtype
        self._plan = Plan(eq, shapes, dtype_code(dtype), optimize, memory_limit)
        self.output_shape = self._plan.output_shape
        self.info = PathInfo(eq, self._plan)
        self._execute = self._plan.execute
        self._backward = self._plan.backward
        self._n = len(shapes)

    # -- the hot path ------------------------------------------------------------------------

    def __call__(self, *arrays, out=None):
        """Contract ``arrays`` (the planned shapes and dtype); return the result array.

        ``out``, if given, must be a writable ndarray of ``output_shape`` and ``dtype``; it
        receives the result and is returned. The result is always an ndarray (0-d for a full
        contraction).
        """
        if out is None:
            out = _empty(self.output_shape, self.dtype)
        elif type(out) is not _ndarray or not out.flags.aligned:
            return self._call_into(arrays, out)
        try:
            self._execute(arrays, out)
        except TNError:
            fixed = self._fix(arrays)
            if fixed is None:
                raise
            self._execute(fixed, out)
        return out

    def backward(self, dy, *arrays, wrt=None):
        """Gradients of ``sum(self(*arrays) * dy)`` with respect to each operand.

        ``dy`` must have ``output_shape`` and ``dtype``. ``wrt`` is an iterable of operand
        indices to differentiate (default: all). Returns a tuple with one array per operand,
        None for operands not in ``wrt``. Intermediates of the last forward call on the same
        arrays are reused.
        """
        if wrt is None:
            grads = tuple([_empty(shape, self.dtype) for shape in self.shapes])
        else:
            wanted = self._wanted(wrt)
            grads = tuple([_empty(shape, self.dtype) if i in wanted else None
                           for i, shape in enumerate(self.shapes)])
        try:
            self._backward(dy, arrays, grads)
        except TNError:
            fixed = self._fix(arrays)
            fixed_dy = self._fix_one("dy", dy)
            if fixed is None and fixed_dy is None:
                raise
            self._backward(dy if fixed_dy is None else fixed_dy,
                           arrays if fixed is None else fixed, grads)
        return grads

    # -- slow paths (errors, unusual inputs) ---------------------------------------------------

    def _call_into(self, arrays, out):
        check_out(out, self.output_shape, self.dtype)
        target = out if out.flags.aligned else _empty(self.output_shape, self.dtype)
        try:
            self._execute(arrays, target)
        except TNError:
            fixed = self._fix(arrays)
            if fixed is None:
                raise
            self._execute(fixed, target)
        if target is not out:
            np.copyto(out, target)
        return out

    def _wanted(self, wrt):
        try:
            indices = {operator.index(i) for i in wrt}
        except TypeError:
            raise ArgumentError(
                f"wrt must be an iterable of operand indices, got {wrt!r}") from None
        bad = sorted(i for i in indices if not 0 <= i < self._n)
        if bad:
            raise ArgumentError(
                f"wrt contains {bad}; operand indices run from 0 to {self._n - 1}")
        return indices

    def _fix_one(self, name, given):
        """A layout-fixed version of one argument, or None when there is nothing to fix.

        Runs only after the engine refused a call. Converts array-likes to arrays and copies
        non-native byte order or misaligned arrays; never changes the dtype: a dtype problem
        raises DTypeError (with a NumPy-style dtype name) instead.
        """
        expected = self.dtype
        if given is None:
            raise DTypeError(f"{name} is None; expected a {expected} array") from None
        array = given
        if type(array) is not _ndarray:
            try:
                array = np.asarray(given)
            except (TypeError, ValueError):
                raise DTypeError(f"{name} ({type(given).__name__}) cannot be converted to a "
                                 f"{expected} array") from None
        dtype = array.dtype
        if dtype.kind != "f" or dtype.itemsize != expected.itemsize:
            origin = "" if array is given else f" (converted from {type(given).__name__})"
            raise DTypeError(f"{name} has dtype {dtype}{origin}; the expression was planned "
                             f"for {expected} (tnswift never casts silently)") from None
        if not dtype.isnative:
            array = array.astype(expected)
        elif not array.flags.aligned:
            array = array.copy()
        return None if array is given else array

    def _fix(self, arrays):
        if len(arrays) != self._n:
            raise ShapeError(
                f"the expression takes {self._n} arrays, got {len(arrays)}") from None
        fixed = [self._fix_one(f"operand {i}", a) for i, a in enumerate(arrays)]
        if all(f is None for f in fixed):
            return None
        return tuple([a if f is None else f for a, f in zip(arrays, fixed)])

    # -- description ---------------------------------------------------------------------------

    @property
    def path(self):
        """The contraction path (opt_einsum form: list of position pairs)."""
        return list(self.info.path)

    @property
    def opt_cost(self):
        """FLOPs of the chosen path."""
        return self.info.opt_cost

    @property
    def naive_cost(self):
        """FLOPs of a single direct loop over all indices."""
        return self.info.naive_cost

    @property
    def largest_intermediate(self):
        """Elements of the largest intermediate of the chosen path."""
        return self.info.largest_intermediate

    def __repr__(self):
        return (f"ContractExpression({self.eq!r}, shapes={self.shapes!r}, "
                f"dtype={self.dtype.name!r}, output_shape={self.output_shape!r}, "
                f"path={self.info.path!r}, opt_cost={self.opt_cost:.6g})")


def _shape_tuple(index, shape):
    try:
        return tuple(operator.index(d) for d in shape)
    except TypeError:
        raise ShapeError(
            f"shape {index} must be a sequence of integers, got {shape!r}") from None


def contract_expression(subscripts, *shapes, dtype="float32", optimize="auto", memory_limit=None):
    """Plan ``subscripts`` once for fixed operand ``shapes`` and ``dtype``; return a callable.

    Parameters
    ----------
    subscripts : str
        Einsum subscripts (NumPy grammar).
    *shapes : tuple of int
        The operand shapes.
    dtype : {"float32", "float64"} or numpy dtype
        The dtype every call uses; arrays of another dtype raise DTypeError.
    optimize, memory_limit
        As for :func:`tnswift.einsum`.

    Returns
    -------
    ContractExpression
        ``expr(*arrays, out=None)`` runs the contraction; ``expr.backward(dy, *arrays,
        wrt=None)`` returns the operand gradients; ``path``, ``opt_cost``, ``naive_cost``,
        ``largest_intermediate``, ``info``, ``shapes``, ``dtype``, ``output_shape`` describe it.
    """
    if not isinstance(subscripts, str):
        raise ArgumentError(f"subscripts must be a str, not {type(subscripts).__name__}")
    eq = subscripts.replace(" ", "")
    shape_tuple = tuple([_shape_tuple(i, s) for i, s in enumerate(shapes)])
    return ContractExpression(eq, shape_tuple, planning_dtype(dtype), optimize_code(optimize),
                              memory_limit_value(memory_limit))
