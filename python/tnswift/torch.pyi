"""Type stubs for tnswift.torch."""

import os
from collections.abc import Callable, Sequence
from typing import Any, NamedTuple, Optional, Tuple, TypeVar, Union

import numpy.typing as npt
import torch

from . import nn as _nn
from ._ext import ArgumentError

_Modes = Union[int, Sequence[int]]
_Rank = Union[int, Sequence[int]]
_DType = Union[torch.dtype, Any]
_Weight = Union[torch.Tensor, npt.ArrayLike]
_B = TypeVar("_B", bound="_Bridge")

class DeviceError(ArgumentError): ...

def einsum(equation: str, *operands: Union[torch.Tensor, Sequence[torch.Tensor]],
           optimize: Union[str, bool] = ..., memory_limit: Optional[int] = ...) -> torch.Tensor: ...

class _Bridge(torch.nn.Module):
    layer: Any
    @classmethod
    def wrap(cls: type[_B], layer: Any) -> _B: ...
    @classmethod
    def from_dense(cls: type[_B], weight: _Weight, bias: Optional[_Weight] = ..., **kwargs: Any) -> _B: ...
    @classmethod
    def from_linear(cls: type[_B], linear: torch.nn.Linear, **kwargs: Any) -> _B: ...
    def forward(self, x: torch.Tensor) -> torch.Tensor: ...
    @property
    def in_features(self) -> int: ...
    @property
    def out_features(self) -> int: ...
    @property
    def in_modes(self) -> Tuple[int, ...]: ...
    @property
    def out_modes(self) -> Tuple[int, ...]: ...
    @property
    def n_params(self) -> int: ...
    @property
    def compression(self) -> float: ...
    def to_dense(self) -> torch.Tensor: ...
    def plan_report(self, batch: int) -> _nn.PlanReport: ...

class Linear(_Bridge):
    layer: _nn.Linear
    def __init__(self, in_features: int, out_features: int, bias: bool = ..., dtype: _DType = ...,
                 seed: int = ...) -> None: ...

class TTLinear(_Bridge):
    layer: _nn.TTLinear
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...

class CPLinear(_Bridge):
    layer: _nn.CPLinear
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: int, bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def rank(self) -> int: ...

class TuckerLinear(_Bridge):
    layer: _nn.TuckerLinear
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...

class EinsumLayer(_Bridge):
    layer: _nn.EinsumLayer
    def __init__(self, equation: str, param_shapes: Sequence[Sequence[int]], bias: bool = ...,
                 dtype: _DType = ..., seed: int = ...) -> None: ...
    @property
    def equation(self) -> str: ...

def wrap(layer: Any) -> _Bridge: ...

class LayerReport(NamedTuple):
    name: str
    in_features: int
    out_features: int
    params_before: int
    params_after: int
    compression: float
    rel_error: float

class ConversionReport(list[LayerReport]):
    @property
    def params_before(self) -> int: ...
    @property
    def params_after(self) -> int: ...

def from_torch(module: torch.nn.Module, format: str = ..., *, rank: Optional[int] = ...,
               eps: Optional[float] = ..., budget: Optional[int] = ...,
               include: Optional[Callable[[str, torch.nn.Linear], bool]] = ..., inplace: bool = ...,
               **options: Any) -> Tuple[torch.nn.Module, ConversionReport]: ...
def to_tnswift(model: torch.nn.Module) -> _nn.Sequential: ...
def export(model: torch.nn.Module, path: Union[str, os.PathLike[str]]) -> _nn.Sequential: ...

__all__: list[str]
