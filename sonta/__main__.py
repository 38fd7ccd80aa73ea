"""`python -m sonta ...` is the `sonta` command."""

import sys

from sonta.cli import main

sys.exit(main())
