"""Anomaly episodes: the per-session detector, its alarm rules, the fall typer that names an
episode, the novelty core, the episodes' vocabulary and log, and per-event detector settings.

Imports `services.core` and `services.storage`.
"""
