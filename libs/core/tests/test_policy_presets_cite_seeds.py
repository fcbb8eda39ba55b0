"""Every preset quotes its seed: each quoted Chinese phrase in its comments is in the seeds."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from followup.core.policy import PRESETS, preset_path

SEEDS = Path(__file__).resolve().parents[3] / ".." / "shared" / "seeds"
_QUOTE = re.compile(r'"([^"\n]*[\u4e00-\u9fff][^"\n]*)"')
# The seeds mix full-width and ASCII punctuation and break lines mid-sentence.
_SAME = str.maketrans(
    {"，": ",", "：": ":", "；": ";", "（": "(", "）": ")", "\n": None, " ": None}
)


def _plain(text: str) -> str:
    return text.translate(_SAME)


def _quotes(toml_text: str) -> list[str]:
    """Quoted phrases in comments; a comment continues across comment lines."""
    comments = "".join(
        line.split("#", 1)[1].strip() if "#" in line else "\n" for line in toml_text.splitlines()
    )
    return _QUOTE.findall(comments)


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_every_phrase_a_preset_quotes_is_in_the_seeds(name: str) -> None:
    seeds = "".join(_plain(p.read_text(encoding="utf-8")) for p in sorted(SEEDS.glob("*.txt")))
    assert seeds, f"no seeds in {SEEDS}"
    text = preset_path(name).read_text(encoding="utf-8")
    own = next(SEEDS.glob(f"{PRESETS[name]}_*.txt"))
    assert own.stem in text, "the preset names its seed file"
    quotes = _quotes(text)
    assert len(quotes) >= 5
    for quote in quotes:
        for part in quote.split("…"):  # an elision between two quoted parts
            assert _plain(part.strip()) in seeds, part
