"""Everything that runs without Dash or Flask, in one subpackage per domain.

    core        the shared vocabulary: settings, the platform's names, Redis names, push messages
    storage     the database: schema, engine, writes, policies, session figures, queries
    ingest      the platform's streams to scores: payload checks, stream reading, windows, score
    detection   anomaly episodes: detector, rules, fall typer, novelty core, episode log
    agent       interventions: desk, guards, sampler, posteriors, content, reward, follow-up
    access      sign-in tokens and the embed ledger
    live        the collector process: tick loop, session book, threads, push hub
    simulation  a simulated platform for the demo, tests and benches (never production code)

Each subpackage imports only those beneath it (see its docstring); `tests/test_import_rules.py`
keeps these rules true. Nothing here imports Dash or Flask.
"""
