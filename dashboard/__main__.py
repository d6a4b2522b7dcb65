"""`python -m dashboard [serve|migrate]` (common.entrypoint)."""

import sys

from common.entrypoint import main
from dashboard.process import PROCESS

if __name__ == "__main__":
    sys.exit(main(PROCESS))
