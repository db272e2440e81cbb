"""The vocabulary every domain shares: settings, the platform's stream and channel names and id
rules, Redis names and connections, anomaly and intervention names, and the browser push protocol.

Imports nothing else from `services`.
"""
