"""Weighted length as X counts it, checked against twitter-text's own conformance suite."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.errors import BadDraft
from bot.length import character_name, check_characters, check_postable, measure

SUITE = Path(__file__).parent.parent.parent / "shared" / "reference" / "twitter-text-conformance" / "validate.yml"


def cases(section: str) -> list:
    if not SUITE.exists():
        return [pytest.param(None, marks=pytest.mark.skip(reason=f"{SUITE} is not beside the project"))]
    return yaml.safe_load(SUITE.read_text(encoding="utf-8"))["tests"][section]


# copydesk counts with the v3 config (emoji-aware), as X does today; the suite's v3 sections are:
@pytest.mark.parametrize(
    "case", cases("WeightedTweetsWithDiscountedEmojiCounterTest") + cases("UnicodeDirectionalMarkerCounterTest")
)
def test_weighted_length_matches_twitter_text_v3(case: dict) -> None:
    length = measure(case["text"])
    assert (length.weighted, length.valid) == (case["expected"]["weightedLength"], case["expected"]["valid"]), case["description"]


def test_an_over_long_text_names_its_count_and_excess() -> None:
    with pytest.raises(BadDraft, match=r"290/280 .*: 10 too many"):
        check_postable("x" * 290)
    assert check_postable("https://example.com/" + "a" * 200).weighted == 23


def test_emoji_and_cjk_count_double() -> None:
    assert measure("😀").weighted == 2 and measure("の").weighted == 2 and measure("a").weighted == 1


latin = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60).filter(
    lambda t: "." not in t and ":" not in t
)


@given(latin, latin)
def test_latin_text_counts_one_per_character_and_lengths_add_up(a: str, b: str) -> None:
    assert measure(a).weighted == len(a)
    assert measure(a + " " + b).weighted == len(a) + 1 + len(b)


@given(st.text(alphabet=st.sampled_from("あいうえお漢字한국"), min_size=1, max_size=140))
def test_every_cjk_character_counts_two(text: str) -> None:
    assert measure(text).weighted == 2 * len(text)
    assert measure(text).valid is (2 * len(text) <= 280)


@given(st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=300))
def test_a_link_counts_23_however_long_it_is(path: str) -> None:
    assert measure(f"see https://example.com/{path}").weighted == len("see ") + 23


plain = st.text(
    st.characters(
        blacklist_categories=["Cs", "Cc"], blacklist_characters="\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
    )
    | st.sampled_from("\n\t"),
    max_size=40,
)
refused = st.sampled_from(
    [chr(c) for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]]
)


@given(plain, refused, plain)
def test_a_refused_character_is_named_at_its_one_based_position(before: str, char: str, after: str) -> None:
    check_characters(before + after)  # newline, tab and everything printable pass
    with pytest.raises(BadDraft) as raised:
        check_characters(before + char + after)
    assert f"has {character_name(char)} at character {len(before) + 1}." in str(raised.value)
    assert character_name(char).startswith(f"U+{ord(char):04X} ") and "None" not in character_name(char)
