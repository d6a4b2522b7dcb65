"""`python -m gateway_admin [serve|migrate]` (common.entrypoint)."""

import sys

from common.entrypoint import main
from gateway_admin.process import PROCESS

if __name__ == "__main__":
    sys.exit(main(PROCESS))
