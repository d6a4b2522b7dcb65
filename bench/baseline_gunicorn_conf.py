"""gunicorn settings for the ingest baseline (bench/baseline_app.py): the gateway's server settings
(gateway/gunicorn_conf.py: gthread, no preload, no access log), with BENCH_WORKERS x BENCH_THREADS."""

import os

bind = os.environ["BENCH_BIND"]
workers = int(os.environ["BENCH_WORKERS"])
worker_class = "gthread"
threads = int(os.environ["BENCH_THREADS"])
timeout = 30
preload_app = False
accesslog = None
errorlog = "-"
loglevel = "warning"
proc_name = "autentikapp-bench-baseline"
control_socket_disable = True
