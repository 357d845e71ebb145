"""``python -m eurec4a``: the same as the ``eurec4a`` command."""
import sys

from eurec4a.cli import main

sys.exit(main())
