"""tnswift: fast, differentiable tensor contractions backed by a Swift engine.

Main entry points:

- :func:`einsum` — ``numpy.einsum`` semantics with an optimised, cached pairwise plan.
- :func:`contract_path` — the plan and its cost report, without running it.
- :func:`contract_expression` — plan once for fixed shapes, call many times; gradients included.
- :func:`ncon` — tensor networks in the ncon convention.
- :func:`set_num_threads` — threads the engine spreads GEMMs over.
- :mod:`tnswift.decompose` — CP (``parafac``), Tucker, tensor-train and TT-matrix decompositions.
- :mod:`tnswift.nn` — factorized linear layers (``Linear``, ``TTLinear``, ``CPLinear``,
  ``TuckerLinear``, ``EinsumLayer``) with forward, backward and parameters as NumPy views;
  activations and losses.
- :mod:`tnswift.optim` — SGD, Adam and AdamW updating those parameters in place.
- :mod:`tnswift.torch` — the PyTorch bridge (einsum and the layers in torch autograd,
  ``from_torch``); import it explicitly: ``import tnswift`` does not import torch.

Every error is a :class:`TNError`; the subclasses also derive from the matching built-in
exception (``ShapeError`` is a ``ValueError``, ``DTypeError`` a ``TypeError``, ...).
"""

import numpy as _numpy  # noqa: F401  (loaded first: its own OpenBLAS keeps its own kernel choice)

from ._openblas_core import chosen_for_load as _chosen_for_load

with _chosen_for_load():
    from ._ext import (
        ArgumentError,
        DTypeError,
        ShapeError,
        SubscriptError,
        TNError,
        TNMemoryError,
        set_num_threads,
    )
from ._ext import abi_version as _abi_version
from ._ext import version as _library_version
from ._pathinfo import PathInfo
from . import datasets, decompose, nn, optim
from .contract import contract_path, einsum
from .expression import ContractExpression, contract_expression
from .network import ncon

__version__ = "0.1.0"


def library_info():
    """Return ``{"version", "blas", "abi"}`` describing the loaded libtnswift."""
    version, blas = _library_version()
    return {"version": version, "blas": blas, "abi": _abi_version()}


__all__ = [
    "einsum",
    "contract_path",
    "contract_expression",
    "ncon",
    "decompose",
    "nn",
    "optim",
    "datasets",
    "set_num_threads",
    "library_info",
    "ContractExpression",
    "PathInfo",
    "TNError",
    "SubscriptError",
    "ShapeError",
    "DTypeError",
    "ArgumentError",
    "TNMemoryError",
    "__version__",
]
