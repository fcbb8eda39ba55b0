"""Notifications to people (SPEC §10): warnings, breaches, escalations and assignments.

A consumer stores one row per (event, recipient, channel) in its batch transaction
(`store`); the `worker` delivers the rows off the consumer's path by signed webhook
(`webhook`) or e-mail (`smtp`), retried with backoff and dead-lettered after the last try.
Who hears of what is `notices`; what each role may read of it, `render`.
"""
