"""The domain stays the domain: nothing in it imports Slack, X, the scheduler or the database, even indirectly."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# What runs the process or speaks to the outside world; everything else in bot/ is the domain.
ADAPTERS = {"runtime", "x"}
FORBIDDEN = {"slack_bolt", "slack_sdk", "tweepy", "apscheduler", "sqlite3", "sqlite_utils", "storage", "handlers"}
BOT = Path(__file__).parent.parent / "bot"
DOMAIN = sorted(
    ".".join(p.relative_to(BOT).with_suffix("").parts).removesuffix(".__init__")
    for p in BOT.rglob("*.py")
    if p != BOT / "__init__.py" and p.relative_to(BOT).parts[0].removesuffix(".py") not in ADAPTERS
)


def test_the_domain_imports_no_adapter_library_even_indirectly() -> None:
    probe = (
        f"import sys\nfor name in {DOMAIN!r}: __import__('bot.' + name)\n"
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & {FORBIDDEN!r}))"
    )
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]", f"the domain modules {DOMAIN} pulled in {loaded}"


def test_the_domain_is_most_of_bot() -> None:
    assert {"desk", "desk.core", "desk.voting", "desk.publishing", "review", "content", "ports"} <= set(DOMAIN)


# Tests and benchmarks use public seams only: a fault is made at the fakes or through a documented test hook (README:
# Development, Test hooks), never by reaching into another object's internals. An object's own `self._x` is its business.
PRIVATE = re.compile(r"(?<!\bself)\._(?:db|scheduler|migrations|claim|cache)\b")


def test_tests_and_benchmarks_reach_into_no_private_internals() -> None:
    root = Path(__file__).parent.parent
    found = [
        f"{path.relative_to(root)}:{number}: {line.strip()}"
        for folder in ("tests", "bench")
        for path in sorted((root / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if PRIVATE.search(line)
    ]
    assert found == [], "use a public seam or a test hook instead:\n" + "\n".join(found)
