"""`python -m camwatch`: the same as the `camwatch` command."""

import sys

from camwatch.cli import main

sys.exit(main())
