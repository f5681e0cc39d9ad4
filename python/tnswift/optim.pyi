"""Type stubs for tnswift.optim."""

from collections.abc import Iterable
from typing import Any, Callable, Tuple

class _Optimizer:
    lr: float
    def step(self) -> None: ...

class SGD(_Optimizer):
    def __init__(self, params: Iterable[Any], lr: float, momentum: float = ..., weight_decay: float = ...,
                 nesterov: bool = ...) -> None: ...

class Adam(_Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = ..., betas: Tuple[float, float] = ..., eps: float = ...,
                 weight_decay: float = ...) -> None: ...

class AdamW(_Optimizer):
    def __init__(self, params: Iterable[Any], lr: float = ..., betas: Tuple[float, float] = ..., eps: float = ...,
                 weight_decay: float = ...) -> None: ...

def cosine_schedule(lr: float, epochs: int, final: float = ...) -> Callable[[int], float]: ...
