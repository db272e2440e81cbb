"""Wiring: the app factory, the runtime it serves, the CLI, HTTP and WebSocket routes."""
