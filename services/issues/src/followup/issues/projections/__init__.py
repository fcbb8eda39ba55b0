"""Issues' read-model SQL, by concept: `history` (each issue's events and locks), `ledger`
(the listed rows, zones, calendar years), `schedule` (the breach schedule and its sweep)."""
