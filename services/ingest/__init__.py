"""From the platform's streams to a score: payload checks (design §2), reading the streams with
a consumer group, per-session windows, and the score formula (design §5).

Imports only `services.core`.
"""
