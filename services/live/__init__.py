"""The collector process: the tick loop and its leader lease, the session book (windows and
detectors per live session), the writer and chore threads, housekeeping, and the push hub that
fans the collector's messages out to each web process's sockets.

Imports every domain but `services.simulation`.
"""
