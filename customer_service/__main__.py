"""`python -m customer_service [serve|migrate]`."""

import sys

from common.config import CUSTOMER_SERVICE_DEFAULT_PORT
from common.entrypoint import main
from customer_service.server import MIGRATIONS, registrations

if __name__ == "__main__":
    sys.exit(main("customer_service", "CUSTOMER_SERVICE", CUSTOMER_SERVICE_DEFAULT_PORT, MIGRATIONS, registrations))
