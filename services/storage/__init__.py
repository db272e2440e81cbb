"""The database: one schema for SQLite, PostgreSQL and TimescaleDB, the engine, batched writes
(COPY on PostgreSQL) from their own thread, retention and compression policies, the sessions'
settled figures, and every query the web tier and the agent read (analysts' filters, series,
overview, interventions, agent settings).

Imports only `services.core`.
"""
