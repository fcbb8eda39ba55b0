"""Visits' read-model SQL, by concept: stored events, queue rows, commands, customers."""
