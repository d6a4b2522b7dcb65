"""The processor as a process (`python -m processor [serve|migrate]`, common.entrypoint).

serve: consume accepted webhook events until SIGTERM/SIGINT (processor.runner). migrate: apply the
migrations of its outcomes table and exit.
"""

from __future__ import annotations

import asyncio

from common.entrypoint import Process, apply_migrations
from processor import runner
from processor.outcomes import MIGRATIONS
from processor.settings import ProcessorSettings

PROCESS = Process(
    name="processor",
    description="Consume accepted webhook events: upsert each buyer, link each sold code.",
    read_settings=ProcessorSettings.from_env,
    migrate=lambda settings: apply_migrations("processor", settings.database_url, MIGRATIONS),
    serve=lambda settings: asyncio.run(runner.serve(settings)),
)
