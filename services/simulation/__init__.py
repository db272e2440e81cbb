"""A simulated event platform: audiences, rooms with scripted episodes, and their response to
interventions. For the demo, `simulate`, tests and benches only; production code never imports it.

Imports only `services.core`.
"""
