"""Scheduling's read model in PostgreSQL, one module per table group: `customers` (rows and
facts), `plans` (the stored plan), `visits` (due, retried, done, missed), `calendar_years`,
`reads` (what the API reads) and `growth` (tables whose statistics the core keeps)."""
