"""Pure planners, one module per stage: snapshots in, a list of Plans out (no I/O, no clock)."""
