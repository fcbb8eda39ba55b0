"""The visits service's pure domain (SPEC §3), by concept: the visit and its fold (`model`),
the clock's misses (`lifecycle`), logging a contact (`log_visit`), spot checks (`spot_checks`),
refusals (`rejections`) and the shapes the API shows (`views`). No I/O, no clock."""
