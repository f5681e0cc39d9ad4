"""NumPy's interleaved einsum form ``(op0, sublist0, op1, sublist1, ..., [sublistout])``."""

import operator

from ._ext import SubscriptError

__all__ = ["from_interleaved"]

_LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def _sublist_to_text(sublist, where):
    try:
        items = list(sublist)
    except TypeError:
        raise SubscriptError(
            f"{where} must be a list of integers or Ellipsis, not {type(sublist).__name__}") from None
    parts = []
    for item in items:
        if item is Ellipsis:
            parts.append("...")
            continue
        try:
            if isinstance(item, bool):
                raise TypeError
            label = operator.index(item)
        except TypeError:
            raise SubscriptError(
                f"{where} contains {item!r}; expected integers in [0, 52) or Ellipsis") from None
        if not 0 <= label < len(_LETTERS):
            raise SubscriptError(f"{where} contains {label}; labels must lie in [0, 52)")
        parts.append(_LETTERS[label])
    return "".join(parts)


def from_interleaved(args):
    """Convert ``(op0, sublist0, op1, sublist1, ..., [sublistout])`` to ``(subscripts, operands)``.

    Integer labels 0-25 become 'A'-'Z' and 26-51 become 'a'-'z' (NumPy's mapping); Ellipsis
    becomes '...'. Without an output sublist the subscripts use implicit output mode.
    """
    n_pairs = len(args) // 2
    operands = tuple(args[2 * k] for k in range(n_pairs))
    inputs = [_sublist_to_text(args[2 * k + 1], f"sublist {k}") for k in range(n_pairs)]
    subscripts = ",".join(inputs)
    if len(args) % 2:
        subscripts += "->" + _sublist_to_text(args[-1], "the output sublist")
    return subscripts, operands
