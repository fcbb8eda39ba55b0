"""The issues service's pure domain (SPEC §4), one module per concept; no I/O, no clock reads.

- `model`: the Issue state, its events and the one fold (`evolve`, one function per event);
- `raising`: departments, the SLA deadlines, raising from a visit's problems or a complaint;
- `lifecycle`: assign, pause, resume, resolve, and a follow-up visit's verdict;
- `clocks`: deadlines in force, breaches and their schedule, recalculation on a new year;
- `views`: each clock at `now` and the timeline, as the API shows them.
"""
