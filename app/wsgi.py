"""The WSGI entry for production servers: `gunicorn -k gevent 'app.wsgi:server'`.

Import it in each worker after the fork (no --preload: threads do not survive a fork). Every
worker runs a push hub and, with COLLECTOR_ENABLED (the default), a collector; they share the
partitions out between them (docs/partitions.md).
"""

from __future__ import annotations

import atexit
import os

from app.factory import create_app
from app.runtime import Runtime
from services.core.settings import load_settings

settings = load_settings()
if "CONSUMER_NAME" in os.environ:
    # Every worker is a consumer of its own: a name shared by two processes would mix up
    # their pending entries and their claim to the lease.
    settings = load_settings(consumer_name=f"{settings.consumer_name}-{os.getpid()}")
# `serve` migrated (or checked) the schema before the fork: workers only check it.
runtime = Runtime.build(settings, with_collector=settings.collector_enabled, migrate=False)
app = create_app(runtime)
runtime.start()
atexit.register(runtime.stop)
server = app.server
