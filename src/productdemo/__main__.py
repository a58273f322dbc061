"""``python -m productdemo``: the same command line as ``productdemo``."""

import sys

from productdemo.cli import main

sys.exit(main())
