#!/usr/bin/env python3
"""The command line of the async-callable patch series for Django: a launcher for
the patchkit package beside it (`python3 scripts/patchset.py --help`)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from patchkit.cli import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main())
