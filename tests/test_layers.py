"""The domain stays the domain: nothing in it imports Slack, X, the scheduler or the database, even indirectly."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import pytest

# What runs the process or speaks to the outside world; everything else in bot/ is the domain.
ADAPTERS = {"runtime", "x", "bluesky", "mastodon"}
FORBIDDEN = {"slack_bolt", "slack_sdk", "tweepy", "mastodon", "apscheduler", "sqlite3", "sqlite_utils", "storage", "handlers"}
FORBIDDEN |= {"atproto", "atproto_client"}  # Bluesky's SDK, in bot/bluesky.py only
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


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth (type-only imports too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module, *(f"{node.module}.{alias.name}" for alias in node.names)}
    return found


@pytest.mark.parametrize(
    ("layer", "never"),
    [
        ("handlers", ("storage",)),  # handlers call the desk; only the desk and the wiring reach the ledger
        ("storage", ("handlers", "bot.desk", "bot.runtime", "bot.x")),  # the ledger stores the domain's values, no more
    ],
)
def test_each_layer_imports_only_what_the_readme_says(layer: str, never: tuple[str, ...]) -> None:
    root = Path(__file__).parent.parent
    found = sorted(
        f"{path.relative_to(root)} imports {name}"
        for path in (root / layer).rglob("*.py")
        for name in _imports(path)
        if any(name == n or name.startswith(n + ".") for n in never)
    )
    assert found == []
