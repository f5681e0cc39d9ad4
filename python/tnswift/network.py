"""Tensor networks in the ncon convention."""

import operator

import numpy as np

from ._ext import OPTIMIZE_AUTO, ArgumentError, ShapeError, SubscriptError
from ._operands import prepare_operands
from ._options import dtype_code
from ._plans import ncon_plan

__all__ = ["ncon"]


def _label_tuple(index, labels):
    try:
        return tuple(operator.index(label) for label in labels)
    except TypeError:
        raise SubscriptError(
            f"network[{index}] must be a sequence of integer labels, got {labels!r}") from None


def _relabel_outputs(labels, out_order):
    """Rename negative labels so that the engine's output order (-1, -2, ...) is out_order."""
    try:
        order = tuple(operator.index(label) for label in out_order)
    except TypeError:
        raise SubscriptError(
            f"out_order must be a sequence of integer labels, got {out_order!r}") from None
    negatives = sorted({label for row in labels for label in row if label < 0}, reverse=True)
    if len(set(order)) != len(order) or sorted(order, reverse=True) != negatives:
        raise SubscriptError(f"out_order {list(order)} must be a permutation of the network's "
                             f"negative labels {negatives}")
    rename = {label: -(k + 1) for k, label in enumerate(order)}
    return tuple(tuple(rename.get(label, label) for label in row) for row in labels)


def _check_con_order(labels, con_order):
    """con_order must name each contracted (positive) label exactly once."""
    positive = sorted({label for row in labels for label in row if label > 0})
    try:
        given = [int(c) for c in con_order]
    except (TypeError, ValueError):
        raise ArgumentError(f"con_order must be a sequence of ints, got {con_order!r}") from None
    if sorted(given) != positive:
        raise ArgumentError(f"con_order {given} must list each contracted label of the network "
                            f"once: {positive}")


def ncon(tensors, network, con_order=None, out_order=None):
    """Contract a tensor network given in the ncon convention (as in TensorNetwork).

    Parameters
    ----------
    tensors : sequence of array_like
        float32 or float64 arrays (mixed operands promote to float64).
    network : sequence of sequence of int
        ``network[i]`` labels the axes of ``tensors[i]``: positive labels are contracted (each
        appears exactly twice), negative labels are the output axes, ordered -1, -2, ...
    con_order : sequence of int, optional
        Accepted for compatibility and checked (it must list every positive label once), but
        the engine chooses the contraction order from the actual shapes (see
        :func:`tnswift.contract_path` for its cost report); the result is the same.
    out_order : sequence of int, optional
        A permutation of the negative labels giving the output axis order (default -1, -2, ...).

    Returns
    -------
    numpy.ndarray
        The contracted network (0-d for a network without open legs).

    Raises
    ------
    SubscriptError
        The network is malformed (a label used once or more than twice, bad out_order, ...).
    ShapeError
        A tensor's rank differs from its label count, or contracted dimensions differ.
    DTypeError
        A tensor is not float32/float64.
    """
    tensors = list(tensors)
    network = list(network)
    if len(network) != len(tensors):
        raise ShapeError(f"network has {len(network)} label lists for {len(tensors)} tensors")
    arrays, dtype = prepare_operands(tensors, noun="tensor")
    labels = tuple([_label_tuple(i, row) for i, row in enumerate(network)])
    if con_order is not None:
        _check_con_order(labels, con_order)
    for i, (array, row) in enumerate(zip(arrays, labels)):
        if len(row) != array.ndim:
            raise ShapeError(f"tensor {i} has shape {array.shape} ({array.ndim} axes) but "
                             f"network[{i}] has {len(row)} labels {list(row)}")
    if out_order is not None:
        labels = _relabel_outputs(labels, out_order)
    plan = ncon_plan(tuple([a.shape for a in arrays]), labels, dtype_code(dtype), OPTIMIZE_AUTO, 0)
    result = np.empty(plan.output_shape, dtype)
    plan.execute(arrays, result)
    return result
