#!/usr/bin/env python3
"""Build the site: `python build.py [build|serve|entities|check] [options]`."""

import sys

from sahifa.cli import main

if __name__ == "__main__":
    sys.exit(main())
