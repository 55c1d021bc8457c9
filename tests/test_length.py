"""Weighted length as X counts it, checked against twitter-text's own conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.errors import BadDraft
from bot.length import check_postable, measure

SUITE = Path(__file__).parent.parent.parent / "shared" / "reference" / "twitter-text-conformance" / "validate.yml"


def cases(section: str) -> list:
    if not SUITE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SUITE} is not beside the project"))]
    return yaml.safe_load(SUITE.read_text(encoding="utf-8"))["tests"][section]


# copydesk counts with the v3 config (emoji-aware), as X does today; the suite's v3 sections are:
@pytest.mark.parametrize("case", cases("WeightedTweetsWithDiscountedEmojiCounterTest") + cases("UnicodeDirectionalMarkerCounterTest"))
def test_weighted_length_matches_twitter_text_v3(case: dict) -> None:
    length = measure(case["text"])
    assert (length.weighted, length.valid) == (case["expected"]["weightedLength"], case["expected"]["valid"]), case["description"]


def test_an_over_long_text_names_its_count_and_excess() -> None:
    with pytest.raises(BadDraft, match=r"290/280 .*: 10 too many"):
        check_postable("x" * 290)
    assert check_postable("https://example.com/" + "a" * 200).weighted == 23


def test_emoji_and_cjk_count_double() -> None:
    assert measure("😀").weighted == 2 and measure("の").weighted == 2 and measure("a").weighted == 1
