"""The WSGI entry point gunicorn imports in each worker (after the fork): `dashboard.wsgi:app`."""

from dashboard.app import create_app

app = create_app()
