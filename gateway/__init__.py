"""The webhook gateway: verify, validate and durably enqueue signed sales (Flask under gunicorn)."""
