"""``python -m exchange_tls``: the ``exchange-tls`` command line."""

from __future__ import annotations

import sys

from exchange_tls.cli import main

if __name__ == "__main__":
    sys.exit(main())
