"""Type stubs for tnswift.torch."""

import os
from collections.abc import Callable, Sequence
from typing import Any, Dict, NamedTuple, Optional, Tuple, TypeVar, Union

import numpy.typing as npt
import torch

from . import nn as _nn
from ._ext import ArgumentError

_Modes = Union[int, Sequence[int]]
_Rank = Union[int, Sequence[int]]
_Pair = Union[int, Sequence[int]]
_Padding = Union[int, Sequence[int], str]
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
    def forward(self, x: torch.Tensor) -> torch.Tensor: ...
    @property
    def n_params(self) -> int: ...
    @property
    def compression(self) -> float: ...
    def to_dense(self) -> torch.Tensor: ...

class _LinearBridge(_Bridge):
    @classmethod
    def from_dense(cls: type[_B], weight: _Weight, bias: Optional[_Weight] = ..., **kwargs: Any) -> _B: ...
    @classmethod
    def from_linear(cls: type[_B], linear: torch.nn.Linear, **kwargs: Any) -> _B: ...
    @property
    def in_features(self) -> int: ...
    @property
    def out_features(self) -> int: ...
    @property
    def in_modes(self) -> Tuple[int, ...]: ...
    @property
    def out_modes(self) -> Tuple[int, ...]: ...
    def plan_report(self, batch: int) -> _nn.PlanReport: ...

class _ConvBridge(_Bridge):
    @classmethod
    def from_dense(cls: type[_B], kernel: _Weight, bias: Optional[_Weight] = ..., **kwargs: Any) -> _B: ...
    @classmethod
    def from_conv(cls: type[_B], conv: torch.nn.Conv2d, **kwargs: Any) -> _B: ...
    @property
    def in_channels(self) -> int: ...
    @property
    def out_channels(self) -> int: ...
    @property
    def kernel_size(self) -> Tuple[int, int]: ...
    @property
    def stride(self) -> Tuple[int, int]: ...
    @property
    def padding(self) -> Union[Tuple[int, int], str]: ...
    @property
    def dilation(self) -> Tuple[int, int]: ...
    @property
    def applied_padding(self) -> Tuple[int, int, int, int]: ...
    def output_shape(self, input_shape: Sequence[int]) -> Tuple[int, int, int, int]: ...

class Linear(_LinearBridge):
    layer: _nn.Linear
    def __init__(self, in_features: int, out_features: int, bias: bool = ..., dtype: _DType = ...,
                 seed: int = ...) -> None: ...

class TTLinear(_LinearBridge):
    layer: _nn.TTLinear
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...

class CPLinear(_LinearBridge):
    layer: _nn.CPLinear
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: int, bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def rank(self) -> int: ...

class TuckerLinear(_LinearBridge):
    layer: _nn.TuckerLinear
    def __init__(self, in_features: _Modes, out_features: _Modes, rank: _Rank, bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...

class EinsumLayer(_LinearBridge):
    layer: _nn.EinsumLayer
    def __init__(self, equation: str, param_shapes: Sequence[Sequence[int]], bias: bool = ...,
                 dtype: _DType = ..., seed: int = ...) -> None: ...
    @property
    def equation(self) -> str: ...

class Conv2d(_ConvBridge):
    layer: _nn.Conv2d
    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair, stride: _Pair = ...,
                 padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ..., dtype: _DType = ...,
                 seed: int = ...) -> None: ...

class CPConv2d(_ConvBridge):
    layer: _nn.CPConv2d
    def __init__(self, in_channels: _Modes, out_channels: _Modes, kernel_size: _Pair, rank: int,
                 stride: _Pair = ..., padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def rank(self) -> int: ...
    @property
    def in_modes(self) -> Tuple[int, ...]: ...
    @property
    def out_modes(self) -> Tuple[int, ...]: ...

class TuckerConv2d(_ConvBridge):
    layer: _nn.TuckerConv2d
    def __init__(self, in_channels: int, out_channels: int, kernel_size: _Pair, rank: _Rank,
                 stride: _Pair = ..., padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ...,
                 dtype: _DType = ..., seed: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, int]: ...

class TTConv2d(_ConvBridge):
    layer: _nn.TTConv2d
    def __init__(self, in_channels: _Modes, out_channels: _Modes, kernel_size: _Pair, rank: _Rank,
                 stride: _Pair = ..., padding: _Padding = ..., dilation: _Pair = ..., bias: bool = ...,
                 dtype: _DType = ..., seed: int = ..., order: int = ...) -> None: ...
    @property
    def ranks(self) -> Tuple[int, ...]: ...
    @property
    def in_modes(self) -> Tuple[int, ...]: ...
    @property
    def out_modes(self) -> Tuple[int, ...]: ...

def wrap(layer: Any) -> _Bridge: ...

class LayerReport(NamedTuple):
    name: str
    in_features: int
    out_features: int
    params_before: int
    params_after: int
    compression: float
    rel_error: float
    kind: str = ...

class ConversionReport(list[LayerReport]):
    @property
    def params_before(self) -> int: ...
    @property
    def params_after(self) -> int: ...

def from_torch(module: torch.nn.Module, format: str = ..., *, rank: Optional[int] = ...,
               eps: Optional[float] = ..., budget: Optional[int] = ...,
               include: Optional[Callable[[str, torch.nn.Module], bool]] = ..., inplace: bool = ...,
               convolutions: bool = ..., conv_options: Optional[Dict[str, Any]] = ...,
               **options: Any) -> Tuple[torch.nn.Module, ConversionReport]: ...
def to_tnswift(model: torch.nn.Module) -> _nn.Sequential: ...
def export(model: torch.nn.Module, path: Union[str, os.PathLike[str]]) -> _nn.Sequential: ...

__all__: list[str]
