"""``python -m hornet_ref.cli``: the ``hornet-ref`` command (torchrun runs it this way)."""

import sys

from . import main

sys.exit(main())
