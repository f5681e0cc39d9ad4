"""Type stubs for tnswift.cli."""

from typing import Any, Dict, List, Optional, Sequence, Tuple

from .training import Sequential

def compress(model: Sequential, format: str, *, rank: Optional[int] = ..., eps: Optional[float] = ...,
             budget: Optional[int] = ..., order: int = ...) -> Tuple[Sequential, List[Dict[str, Any]]]: ...
def main(argv: Optional[Sequence[str]] = ...) -> int: ...
