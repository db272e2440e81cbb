"""The intervention agent: the desk that proposes, guards, executes, expires and measures, its
Thompson sampler and posteriors, content templates, the reward rule, the follow-up of executed
interventions and the platform's delivery outcomes.

Imports `services.core`, `services.storage` and `services.ingest` (to read the outcome stream).
"""
