"""The channels file: SMTP, webhooks, people and who manages each department.

TOML, validated when the service starts (an unknown key or a webhook nobody defined is an
error then, not a lost notification later). Secrets come from the environment by name
(`secret_env`, `password_env`); an inline `secret` is for development only. The example and
every key are in libs/core/README.md ("Notifications").
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict, Field, model_validator

from followup.core.auth import Role
from followup.core.notify.models import Locale, Person, Webhook


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpConfig(_Section):
    """Where e-mail goes out: a submission server, STARTTLS or implicit TLS, optional login."""

    host: str
    port: int = 587
    sender: str
    starttls: bool = True
    tls: bool = False
    username: str | None = None
    password_env: str | None = None
    timeout_s: float = 10.0

    def password(self) -> str | None:
        """The login password, read from the environment variable the file names."""
        return os.environ.get(self.password_env) if self.password_env else None


class WebhookConfig(_Section):
    url: str
    secret: str | None = None
    secret_env: str | None = None

    @model_validator(mode="after")
    def _one_secret(self) -> WebhookConfig:
        if (self.secret is None) == (self.secret_env is None):
            raise ValueError("a webhook has exactly one of secret_env and secret")
        return self


class DepartmentConfig(_Section):
    manager: str | None = None
    director: str | None = None


class PersonConfig(_Section):
    role: Role
    department: str | None = None
    locale: Locale = "zh-CN"
    email: str | None = None
    webhook: str | None = None


class NotifyFile(_Section):
    """The whole file."""

    smtp: SmtpConfig | None = None
    webhooks: dict[str, WebhookConfig] = Field(default_factory=dict)
    departments: dict[str, DepartmentConfig] = Field(default_factory=dict)
    people: dict[str, PersonConfig] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _references_exist(self) -> NotifyFile:
        for pid, person in self.people.items():
            if person.webhook is not None and person.webhook not in self.webhooks:
                raise ValueError(f"people.{pid}.webhook: no webhook named {person.webhook!r}")
            if person.email is not None and self.smtp is None:
                raise ValueError(f"people.{pid}.email: the file has no [smtp] section")
        return self


class Recipients(Protocol):
    """Who people are and who manages a department (configuration today; a roster later)."""

    def person(self, person_id: str) -> Person | None: ...

    def manager(self, department: str) -> str | None: ...

    def director(self, department: str) -> str | None: ...


@dataclass(frozen=True)
class ConfiguredRecipients:
    """Recipients as the channels file lists them."""

    people: Mapping[str, Person]
    departments: Mapping[str, DepartmentConfig]

    def person(self, person_id: str) -> Person | None:
        """The person with this id, if the file lists them."""
        return self.people.get(person_id)

    def manager(self, department: str) -> str | None:
        """The department's manager (level 1), if configured."""
        d = self.departments.get(department)
        return d.manager if d else None

    def director(self, department: str) -> str | None:
        """Who a department escalates to at level 2, if configured."""
        d = self.departments.get(department)
        return d.director if d else None


@dataclass(frozen=True)
class Channels:
    """The file, loaded: recipients, webhooks by name with their secrets, SMTP."""

    recipients: ConfiguredRecipients
    webhooks: Mapping[str, Webhook]
    smtp: SmtpConfig | None


def parse(doc: Mapping[str, object]) -> Channels:
    """Channels from the file's parsed TOML; ValueError naming what is wrong."""
    f = NotifyFile.model_validate(doc)
    webhooks = {}
    for name, w in f.webhooks.items():
        secret = w.secret if w.secret is not None else os.environ.get(w.secret_env or "")
        if not secret:
            raise ValueError(f"webhooks.{name}: environment variable {w.secret_env} is not set")
        webhooks[name] = Webhook(name=name, url=w.url, secret=secret.encode())
    people = {
        pid: Person(
            id=pid,
            role=p.role,
            department=p.department,
            locale=p.locale,
            email=p.email,
            webhook=p.webhook,
        )
        for pid, p in f.people.items()
    }
    return Channels(ConfiguredRecipients(people, dict(f.departments)), webhooks, f.smtp)


def load(path: Path) -> Channels:
    """Reads and validates a channels file."""
    with path.open("rb") as fh:
        return parse(tomllib.load(fh))
