"""Type stubs for tnswift.demo."""

from typing import Any, Callable, Dict, IO, List, Optional

from .training import Sequential

def architectures(seed: int = ...) -> Dict[str, Callable[[], Sequential]]: ...
def conv_net(seed: int = ...) -> Sequential: ...
def run(quick: bool = ..., out_dir: str = ..., data_dir: Optional[str] = ..., epochs: Optional[int] = ...,
        seed: int = ..., stream: Optional[IO[str]] = ...) -> List[Dict[str, Any]]: ...
