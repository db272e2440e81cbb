"""Layout builders: pure functions of their arguments, no I/O."""
