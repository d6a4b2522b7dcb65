"""`python -m identifier_service [serve|migrate]`."""

import sys

from common.config import IDENTIFIER_SERVICE_DEFAULT_PORT
from common.entrypoint import main
from identifier_service.server import MIGRATIONS, registrations

if __name__ == "__main__":
    sys.exit(main("identifier_service", "IDENTIFIER_SERVICE", IDENTIFIER_SERVICE_DEFAULT_PORT, MIGRATIONS, registrations))
