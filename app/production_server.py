"""`serve`: gunicorn with gevent workers, each importing `app.wsgi` after the fork.

WebSockets hold a connection each: gevent workers hold hundreds per process where threaded
workers starve page requests; waitress cannot serve them at all.
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from services.core.settings import Settings


class ProductionServer(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings) -> None:
        self._options = {
            "bind": f"{settings.host}:{settings.port}",
            "workers": settings.web_workers,
            "worker_class": "gevent",
            "worker_connections": 1000,
            "graceful_timeout": 20,
            "timeout": 60,
            "accesslog": None,
            "loglevel": settings.log_level.lower(),
            "preload_app": False,
        }
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from app.wsgi import server

        return server
