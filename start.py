#!/usr/bin/env python3
"""The original entry point: `python3 start.py [port]` serves on port 8100 (or the given one)."""

import sys

from camwatch.cli import main

if __name__ == "__main__":
    port = sys.argv[1:2]
    sys.exit(main(["--port", port[0], *sys.argv[2:]] if port else []))
