"""`python -m identifier_service [serve|migrate]` (common.entrypoint)."""

import sys

from common.entrypoint import main
from identifier_service.process import PROCESS

if __name__ == "__main__":
    sys.exit(main(PROCESS))
