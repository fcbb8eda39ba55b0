"""The CLI talks to the stack its environment names, as `make up` does."""

from __future__ import annotations

import pytest

from followup.core.cli_services import settings_for


def test_the_cli_reads_the_broker_and_database_ports_of_the_stack(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("FOLLOWUP_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("FOLLOWUP_PG_DSN", raising=False)
    monkeypatch.setenv("FOLLOWUP_KAFKA_PORT", "29092")
    monkeypatch.setenv("FOLLOWUP_PG_PORT", "25432")
    settings = settings_for("scheduling", None)
    assert settings.kafka_bootstrap == "127.0.0.1:29092"
    assert settings.pg_dsn == "postgresql://postgres@127.0.0.1:25432/scheduling"


def test_an_explicit_bootstrap_wins_over_the_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FOLLOWUP_KAFKA_PORT", "29092")
    monkeypatch.setenv("FOLLOWUP_KAFKA_BOOTSTRAP", "10.0.0.7:9092")
    assert settings_for("scheduling", None).kafka_bootstrap == "10.0.0.7:9092"


def test_without_a_port_the_default_stack_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOLLOWUP_KAFKA_BOOTSTRAP", raising=False)
    monkeypatch.delenv("FOLLOWUP_KAFKA_PORT", raising=False)
    assert settings_for("scheduling", None).kafka_bootstrap == "127.0.0.1:19092"
