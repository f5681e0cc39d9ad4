from typing import Dict, Union

from ._ext import (
    ArgumentError as ArgumentError,
    DTypeError as DTypeError,
    ShapeError as ShapeError,
    SubscriptError as SubscriptError,
    TNError as TNError,
    TNMemoryError as TNMemoryError,
    set_num_threads as set_num_threads,
)
from . import decompose as decompose
from . import nn as nn
from . import optim as optim
from . import datasets as datasets
from ._pathinfo import PathInfo as PathInfo
from .contract import contract_path as contract_path, einsum as einsum
from .expression import (
    ContractExpression as ContractExpression,
    contract_expression as contract_expression,
)
from .network import ncon as ncon

__version__: str

def library_info() -> Dict[str, Union[str, int]]: ...

__all__: list[str]
