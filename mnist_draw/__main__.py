"""`python -m mnist_draw`: the same as the `mnist-draw` command."""

import sys

from mnist_draw.cli import main

if __name__ == "__main__":
    sys.exit(main())
