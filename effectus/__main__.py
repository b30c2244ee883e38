"""``python -m effectus``: the same command line as ``effectus``."""

import sys

from effectus.cli import main

sys.exit(main())
