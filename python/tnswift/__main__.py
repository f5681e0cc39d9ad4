"""``python -m tnswift``: the tnswift command."""

import sys

from .cli import main

sys.exit(main())
