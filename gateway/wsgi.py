"""The WSGI entry point gunicorn imports in each worker (after the fork): `gateway.wsgi:app`."""

from gateway.app import create_app

app = create_app()
