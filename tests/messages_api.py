"""A local HTTP server that speaks enough of Anthropic's Messages API for the content writer:
`POST /v1/messages` answers a message whose text block is what `answer` returns, with usage as
the real service reports it (a cache write on the first call, cache reads after). Latency and
failures are settable while it runs. The real service cannot be reached from the test machines.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = Callable[[dict[str, Any]], str]


def room_of(request: dict[str, Any]) -> str:
    """The user turn the writer sent: the room's context and its chat."""
    return str(request["messages"][0]["content"])


def chat_of(request: dict[str, Any]) -> list[str]:
    """The chat messages the writer quoted, parsed back from the user turn."""
    text = room_of(request)
    return json.loads(text[text.rindex("\n") + 1 :])


def kind_of(request: dict[str, Any]) -> str:
    """Which answer schema the writer asked for: the title of its JSON schema."""
    return str(request["output_config"]["format"]["schema"].get("title"))


GOOD_ANSWERS = {
    "PollAnswer": {
        "question": "Which query plan surprised you most today?",
        "options": ["Nested loop", "Hash join", "Index-only scan"],
        "duration_seconds": 90,
    },
    "ChatAnswer": {"message": "What would you ask a query planner if it could answer back?"},
    "NotificationAnswer": {
        "title": "The planner talk lost its chat",
        "body": "Messages fell from 14 to 2 a minute in the last two minutes.",
        "priority": "MEDIUM",
        "suggested_action": "Ask the speaker to take a question from the room.",
    },
    "GamificationAnswer": {
        "action": "START_CHALLENGE",
        "template": "QA_SPRINT",
        "name": "Planner question sprint",
        "description": "Ask your sharpest question about query plans; the best three win points.",
        "duration_minutes": 4,
        "multiplier": 2,
    },
}


def good_answer(request: dict[str, Any]) -> str:
    return json.dumps(GOOD_ANSWERS[kind_of(request)])


@dataclass
class MessagesApi:
    answer: Answer = good_answer
    latency_seconds: float = 0.0
    fail_status: int | None = None  # answer every call with this HTTP status instead
    # Per call, for replays (bench/content_writer.py): a latency and a status to fail with.
    latency_of: Callable[[], float] | None = None
    status_of: Callable[[], int | None] | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _cached: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> MessagesApi:
        api = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:  # quiet in test output
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", 0))
                body = json.loads(self.rfile.read(length))
                with api._lock:
                    api.requests.append(body)
                delay = api.latency_of() if api.latency_of else api.latency_seconds
                if delay:
                    time.sleep(delay)
                if self.path != "/v1/messages":
                    return self._send(404, {"type": "error", "error": {"type": "not_found"}})
                status = api.status_of() if api.status_of else api.fail_status
                if status is not None:
                    error = {"type": "api_error", "message": "overloaded"}
                    return self._send(status, {"type": "error", "error": error})
                self._send(200, api.message(body))

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting, as it should with a slow server

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def message(self, body: dict[str, Any]) -> dict[str, Any]:
        system = "".join(block["text"] for block in body.get("system", []))
        prompt = system + room_of(body)
        with self._lock:
            cached = system in self._cached
            self._cached.add(system)
        system_tokens = len(system) // 4
        return {
            "id": f"msg_{len(self.requests)}",
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": [{"type": "text", "text": self.answer(body)}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": {
                "input_tokens": (len(prompt) // 4) - system_tokens,
                "output_tokens": 60,
                "cache_read_input_tokens": system_tokens if cached else 0,
                "cache_creation_input_tokens": 0 if cached else system_tokens,
            },
        }

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
