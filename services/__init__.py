"""Everything that runs without Dash or Flask: signals, windows, score, storage, bus, collector."""
