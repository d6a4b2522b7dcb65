"""`python -m processor [run|migrate]`."""

import sys

from processor.main import main

if __name__ == "__main__":
    sys.exit(main())
