"""Root conftest: shared fixtures for real infrastructure (see followup.core.testing)."""

pytest_plugins = ["followup.core.testing"]
