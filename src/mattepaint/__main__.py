"""``python -m mattepaint``: the same command line as the ``mattepaint`` console script."""

import sys

from mattepaint.cli import main

if __name__ == "__main__":
    sys.exit(main())
