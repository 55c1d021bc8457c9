"""Ledger at scale: the daily digest, /draft list and a start over a million past posts cost no more than over a thousand.

Two ledgers that differ only in how much history lies behind the last 24 hours (bench/history.py builds them)
are read by the real Desk, in-process: the digest as `digests_so_far()` composes it (the ledger's queries and
the Report, not Slack), /draft list as its handler computes it (`render.pending_list(desk.reading.pending())`).
Every SQL statement those calls run is captured and its query plan kept: a plan that scans a history table
would make the cost grow with the ledger, whatever the timings of one machine say.
"""

from __future__ import annotations

import gc
import re
import sqlite3
import statistics
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from bench import history
from bench.report import Figure, Section
from bot.desk import Desk
from handlers import render
from storage.ledger import Ledger

TITLE = "Ledger at scale"


@dataclass(frozen=True)
class Pace:
    """How long each call is timed on each ledger: until it ran `reps` times or for `seconds` (at least `least` times)."""

    warm_up: int = 5
    reps: int = 200
    seconds: float = 2.0
    least: int = 20
    most_seconds: float = 20.0
    block: int = 10  # calls in a row on one ledger before the other ledger's turn


FULL, QUICK = Pace(), Pace(warm_up=1, reps=5, seconds=0.05, least=5, most_seconds=0.5, block=5)
HISTORY = re.compile(rf"^SCAN ({'|'.join(history.HISTORY_TABLES)})\b")

CALLS: dict[str, tuple[str, Callable[[Desk], Any]]] = {
    "digest": ("digest", lambda desk: desk.digests.digests_so_far()),
    "draft_list": (
        "/draft list",
        lambda desk: render.pending_list(desk.reading.pending(), frozenset(desk.core.config.accounts)),
    ),  # a reader's
}


def run(workdir: Path, *, quick: bool = False) -> Section:
    """Build both ledgers in `workdir`, time each call on each (warm), and keep the query plans of the large one."""
    started = time.perf_counter()
    small, large = (1_000, 20_000) if quick else (1_000, 1_000_000)
    template_started = time.perf_counter()
    template, spans, config = history.write_template(workdir)
    template_seconds = time.perf_counter() - template_started
    built = {n: history.grow(workdir / f"ledger-{n}.db", template, spans, n) for n in (small, large)}
    ledgers: dict[int, Ledger] = {}
    desks: dict[int, Desk] = {}
    for n in (small, large):
        opening = time.perf_counter()
        ledgers[n] = Ledger.open(workdir / f"ledger-{n}.db")
        built[n]["open_seconds"] = round(time.perf_counter() - opening, 3)  # migrations checked, foreign keys checked
        desks[n] = history.quiet_desk(config, ledgers[n], history.FixedClock(history.NOW))
    try:
        pace = QUICK if quick else FULL
        section = Section(TITLE)
        details: dict[str, Any] = {
            "ledgers": {f"{n:,} posts": built[n] for n in (small, large)},
            "template_seconds": round(template_seconds, 2),
            "build_seconds": round(built[large]["copy_seconds"] + built[large]["analyze_seconds"], 1),
            "statistics": f"ANALYZE ran after building: sqlite_stat1 has {built[large]['stat1_rows']} rows, as in a ledger "
            "someone ran ANALYZE or PRAGMA optimize on (copydesk itself never does)",
            "cache": "warm: each ledger was read by the same calls before timing; small and large ledgers take turns "
            f"in blocks of {pace.block} calls, after {pace.warm_up} untimed calls each",
            "same_work": same_work(desks[small], desks[large]),
            "full_scans": [],
            "query_plans": {},
        }
        for key, (label, call) in CALLS.items():
            samples = timed({n: (lambda desk=desks[n], call=call: call(desk)) for n in (small, large)}, pace)
            at = {n: summary(samples[n]) for n in (small, large)}
            statements = {n: captured(ledgers[n], lambda desk=desks[n], call=call: call(desk)) for n in (small, large)}
            shapes = distinct(statements[large])
            plans = [plan(workdir / f"ledger-{large}.db", sql, runs) for sql, runs in shapes]
            details[key] = {f"{n:,} posts": {**at[n], "statements": len(statements[n])} for n in (small, large)}
            details[key]["same_plans_at_both_sizes"] = [p["plan"] for p in plans] == [
                plan(workdir / f"ledger-{small}.db", sql, runs)["plan"] for sql, runs in shapes
            ]
            details["query_plans"][key] = plans
            details["full_scans"] += [
                {"call": label, "sql": p["sql"], "plan": line} for p in plans for line in p["plan"] if HISTORY.match(line.strip())
            ]
            section.figures.append(
                Figure(
                    f"{label}, {large:,} past posts",
                    at[large]["median_ms"],
                    f"the same {label} at {small:,} posts",
                    at[small]["median_ms"],
                    limit=2.0,
                )
            )
        starts = timed(
            {n: (lambda n=n: restart(workdir / f"ledger-{n}.db", config)) for n in (small, large)},
            replace(pace, reps=max(pace.least, pace.reps // 4)),
        )
        at = {n: summary(starts[n]) for n in (small, large)}
        details["start"] = {f"{n:,} posts": at[n] for n in (small, large)}
        section.figures.append(
            Figure(
                f"start (open, migrate, recover), {large:,} past posts",
                at[large]["median_ms"],
                f"the same start at {small:,} posts",
                at[small]["median_ms"],
                limit=1.5,
            )
        )
        section.details = details
    finally:
        for ledger in ledgers.values():
            ledger.close()
        for built_file in [*workdir.glob("ledger-*.db*"), *workdir.glob("template.db*")]:
            built_file.unlink()  # 2.4 GB at a million posts; nothing is kept for the next run
    section.seconds = time.perf_counter() - started
    return section


def restart(path: Path, config: Any) -> None:
    """What a start does to the ledger before it serves: open it (schema checked), then settle and plan from it."""
    ledger = Ledger.open(path)
    try:
        history.quiet_desk(config, ledger, history.FixedClock(history.NOW)).recovery.recover()
    finally:
        ledger.close()


def timed(calls: dict[int, Callable[[], Any]], pace: Pace) -> dict[int, list[float]]:
    """Milliseconds per call, the ledgers taking turns, until each has had enough calls (see Pace)."""
    for call in calls.values():
        for _ in range(pace.warm_up):
            call()
    samples: dict[int, list[float]] = {n: [] for n in calls}
    spent = dict.fromkeys(calls, 0.0)
    gc.collect()

    def enough(n: int) -> bool:
        done = len(samples[n])
        return spent[n] >= pace.most_seconds or (done >= pace.reps or spent[n] >= pace.seconds) and done >= pace.least

    while not all(enough(n) for n in calls):
        for n, call in calls.items():
            for _ in range(pace.block):
                began = time.perf_counter()
                call()
                took = time.perf_counter() - began
                samples[n].append(took * 1000)
                spent[n] += took
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 3),
        "reps": len(ordered),
    }


def captured(ledger: Ledger, call: Callable[[], Any]) -> list[str]:
    """Every data statement one call runs, as SQLite ran it (parameters filled in)."""
    seen: list[str] = []
    with ledger.trace(seen.append):
        call()
    return [sql for sql in seen if sql.lstrip()[:6].upper() in ("SELECT", "INSERT", "UPDATE", "DELETE", "WITH  ")]


_LITERAL = re.compile(r"'(?:[^']|'')*'|\b\d+(?:\.\d+)?\b|\bNULL\b")
_LIST = re.compile(r"\(\?(?:, \?)*\)")


def shape(sql: str) -> str:
    """A statement without its values: one draft's lookup and the next draft's are the same query."""
    return _LIST.sub("(…)", _LITERAL.sub("?", " ".join(sql.split())))


def distinct(statements: list[str]) -> list[tuple[str, int]]:
    """The first statement of each shape, in the order they ran, and how many times that shape ran."""
    first: dict[str, str] = {}
    runs: dict[str, int] = {}
    for sql in statements:
        key = shape(sql)
        first.setdefault(key, sql)
        runs[key] = runs.get(key, 0) + 1
    return [(sql, runs[key]) for key, sql in first.items()]


def plan(path: Path, sql: str, runs: int) -> dict[str, Any]:
    """EXPLAIN QUERY PLAN of one statement with its values, as indented lines (the file's plan: any connection reads it)."""
    with closing(sqlite3.connect(f"{path.absolute().as_uri()}?mode=ro", uri=True)) as conn:
        rows = conn.execute("EXPLAIN QUERY PLAN " + sql).fetchall()
    depth: dict[int, int] = {0: -1}
    lines = []
    for node, parent, _, detail in rows:
        depth[node] = depth.get(parent, -1) + 1
        lines.append("  " * depth[node] + detail)
    return {"sql": " ".join(sql.split()), "runs": runs, "plan": lines}


def same_work(small: Desk, large: Desk) -> dict[str, Any]:
    """Both ledgers must give the same digest and list, but for draft numbers: only the history behind them differs."""
    digests = [[r.counts for r in desk.digests.digests_so_far()] for desk in (small, large)]
    lists = [
        render.pending_list(desk.reading.pending(), frozenset(desk.core.config.accounts))[0].count("\n•")
        for desk in (small, large)
    ]
    return {"digest_sections": digests[0], "list_lines": lists[0], "same": digests[0] == digests[1] and lists[0] == lists[1]}
