"""pytest configuration for the tnswift Python suite."""

import os
import sys

import numpy as np
import pytest

# tn_helpers.py lives next to this file; make it importable whatever the
# import mode pytest runs in.
HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def pytest_report_header(config):
    try:
        import tnswift
    except Exception as exc:  # pragma: no cover - shown in the header only
        return f"tnswift: not importable ({exc!r})"
    return f"tnswift {getattr(tnswift, '__version__', '?')} from {os.path.dirname(tnswift.__file__)}"


@pytest.fixture
def rng(request):
    """A deterministic generator, seeded from the test's node id."""
    seed = sum(ord(c) * (i + 1) for i, c in enumerate(request.node.nodeid)) % (2**32)
    return np.random.default_rng(seed)
