"""How the CLI finds a service by name: its settings, migrations and subscription.

A service is `followup.<name>.main` (its `service_parts(settings)` or, for migrations alone,
its `MIGRATIONS` directory) and `followup.<name>.settings` (its CoreSettings subclass).
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from followup.core.settings import CoreSettings

if TYPE_CHECKING:
    from followup.core.maintenance import GrowingTable


@dataclass
class ServiceHooks:
    """What the CLI needs from a service."""

    name: str
    settings: CoreSettings
    migrations_dir: Path | None
    subscription: Callable[[Any], Any] | None  # clock -> Subscription
    growing_tables: Sequence[GrowingTable] = ()  # kept fresh during a replay
    key_store: Any = None  # the service's KeyStore: its handlers seal and open with it


def settings_for(name: str, dsn: str | None) -> CoreSettings:
    cls: type[CoreSettings] = CoreSettings
    try:
        module = importlib.import_module(f"followup.{name}.settings")
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, CoreSettings)
                and value is not CoreSettings
            ):
                cls = value
                break
    except ImportError:
        pass
    overrides: dict[str, Any] = {"service": name}
    if dsn:
        overrides["pg_dsn"] = dsn
    elif not os.environ.get("FOLLOWUP_PG_DSN"):
        port = os.environ.get("FOLLOWUP_PG_PORT", "15432")
        overrides["pg_dsn"] = f"postgresql://postgres@127.0.0.1:{port}/{name}"
    # The broker of the same stack as the database: `make up` reads the port, as here.
    kafka_port = os.environ.get("FOLLOWUP_KAFKA_PORT")
    if kafka_port and not os.environ.get("FOLLOWUP_KAFKA_BOOTSTRAP"):
        overrides["kafka_bootstrap"] = f"127.0.0.1:{kafka_port}"
    return cls(**overrides)


def package_migrations(name: str) -> Path | None:
    """services/<name>/migrations, found from the package without importing it."""
    spec = importlib.util.find_spec(f"followup.{name}")
    if spec is None or not spec.submodule_search_locations:
        return None
    # services/<name>/src/followup/<name> -> services/<name>/migrations
    candidate = Path(next(iter(spec.submodule_search_locations))).resolve().parents[2]
    return candidate / "migrations" if (candidate / "migrations").is_dir() else None


def load_service(
    name: str, dsn: str | None = None, *, with_subscription: bool = False
) -> ServiceHooks:
    """The hooks of service `name` (its migrations and, when asked, its subscription)."""
    settings = settings_for(name, dsn)
    migrations = package_migrations(name)
    subscription = None
    growing: Sequence[GrowingTable] = ()
    key_store = None
    if with_subscription or migrations is None:
        try:
            main = importlib.import_module(f"followup.{name}.main")
        except ImportError as exc:
            if with_subscription:
                raise typer.BadParameter(f"cannot load service {name!r}: {exc}") from exc
            return ServiceHooks(name, settings, None, None)
        parts_factory = getattr(main, "service_parts", None)
        if callable(parts_factory):
            parts = parts_factory(settings)
            migrations = getattr(parts, "migrations_dir", None) or migrations
            subscription = getattr(parts, "subscription", None)
            growing = getattr(parts, "growing_tables", ())
            key_store = getattr(parts, "key_store", None)
        if migrations is None and getattr(main, "MIGRATIONS", None) is not None:
            migrations = Path(main.MIGRATIONS)
    return ServiceHooks(name, settings, migrations, subscription, growing, key_store)
