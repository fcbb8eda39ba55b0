"""Notification settings, environment `FOLLOWUP_NOTIFY_*`."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class NotifySettings(BaseSettings):
    """Where the channels file is and how deliveries are retried."""

    model_config = SettingsConfigDict(env_prefix="FOLLOWUP_NOTIFY_", extra="ignore")

    # The channels file (TOML, libs/core/README.md); empty: the service notifies nobody.
    file: str = ""
    # Attempts per delivery, the first included; the last failure dead-letters it.
    max_attempts: int = 6
    # Backoff after the n-th failure: retry_initial_s * 2**(n-1), at most retry_max_s.
    retry_initial_s: float = 5.0
    retry_max_s: float = 600.0
    poll_interval_s: float = 0.5
    batch: int = 50
    # How long a claimed row stays claimed: a worker that dies mid-send leaves it due after.
    lease_s: float = 120.0
    # Events that reached the broker longer ago than this when consumed notify nobody: a new
    # consumer group (or the offsets a replay swaps away) must not page people about last month.
    max_age_hours: float = 24.0
    # Settled rows are forgotten after this many days (0 keeps them); more than max_age, so
    # a re-read event still finds its row and is not sent twice.
    retention_days: float = 30.0
    timeout_s: float = 10.0

    def backoff_s(self, failures: int) -> float:
        """Seconds to wait after the given number of failed attempts."""
        return float(min(self.retry_max_s, self.retry_initial_s * 2 ** max(0, failures - 1)))
