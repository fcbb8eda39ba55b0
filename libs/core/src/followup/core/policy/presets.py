"""The five seed companies' policies, `policies/<name>.toml` at the repository's root."""

from __future__ import annotations

from pathlib import Path

from followup.core.policy.loading import load_policy
from followup.core.policy.model import Policy

# Preset name -> the seed document it encodes (../shared/seeds).
PRESETS = {
    "home-cinema": "000",
    "generic": "001",
    "complaints": "002",
    "cable-tv": "003",
    "appliances": "004",
}
DEFAULT_PRESET = "home-cinema"


def presets_dir() -> Path:
    """The repository's `policies/` (beside libs/ in a checkout and in the image's /app)."""
    return Path(__file__).resolve().parents[6] / "policies"


def preset_path(name: str, directory: Path | None = None) -> Path:
    """The file of a preset by name."""
    if name not in PRESETS:
        raise KeyError(f"no preset {name!r}; presets: {', '.join(PRESETS)}")
    return (directory or presets_dir()) / f"{name}.toml"


def load_preset(name: str = DEFAULT_PRESET, directory: Path | None = None) -> Policy:
    """A preset's Policy (home-cinema, the default, unless named)."""
    return load_policy(preset_path(name, directory))
