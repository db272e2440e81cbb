"""The collector process: the tick loop, its share of the partitions (leases, checkpoints, the
rebuild on a handover), the session book (windows and detectors per live session), the writer
and chore threads, housekeeping, and the push hub that
fans the collector's messages out to each web process's sockets.

Imports every domain but `services.simulation`.
"""
