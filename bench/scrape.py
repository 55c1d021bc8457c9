"""/metrics over a long history: a scrape costs what is new since the last one, and never makes the bot's writes wait.

Two ledgers that differ only in how much history they hold (bench/history.py builds them) are each watched by the
real Metrics, in-process. A scrape is `Metrics.page()`, what GET /metrics serves. Meanwhile a writer thread does what a
vote does before its acknowledgement (`first_sighting`, one ledger transaction) 500 times a second, each timed: how long a
write waits while scrapes run is held against how long the same writes take with no scrape at all.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from bench import history
from bench.report import Figure, Section
from bot.runtime.metrics import Metrics
from bot.runtime.scheduling import PublishScheduler
from storage.ledger import Ledger

TITLE = "Scrapes over a long history"
PACE = 0.002  # seconds between two writes: 500 a second


def run(workdir: Path, *, quick: bool = False) -> Section:
    """Build both ledgers in `workdir`; time the first scrape and the ones after it, and a writer's waits beside them."""
    started = time.perf_counter()
    small, large = (1_000, 5_000) if quick else (10_000, 100_000)
    scrapes = 5 if quick else 30
    template, spans, config = history.write_template(workdir)
    built = {n: history.grow(workdir / f"ledger-{n}.db", template, spans, n) for n in (small, large)}
    details: dict[str, Any] = {"ledgers": {f"{n:,} posts": built[n] for n in (small, large)}}
    section = Section(TITLE)
    try:
        at = {n: measure(workdir / f"ledger-{n}.db", tuple(config.accounts), scrapes) for n in (small, large)}
        details |= {f"{n:,} posts": at[n] for n in (small, large)}
        section.figures += [
            Figure(
                f"scrape after the first, {large:,} past posts",
                at[large]["scrape_ms"]["median"],
                f"the same scrape at {small:,} posts",
                at[small]["scrape_ms"]["median"],
                limit=2.0,
            ),
            Figure(
                f"a write's longest wait while scraped, {large:,} past posts",
                at[large]["write_ms_scraped"]["max"],
                "the same writes' longest wait, no scrape",
                at[large]["write_ms_alone"]["max"],
                limit=3.0,
            ),
        ]
        section.details = details
    finally:
        for built_file in [*workdir.glob("ledger-*.db*"), *workdir.glob("template.db*")]:
            built_file.unlink()
    section.seconds = time.perf_counter() - started
    return section


def measure(path: Path, accounts: tuple[str, ...], scrapes: int) -> dict[str, Any]:
    """The first scrape, `scrapes` more, and a writer's waits with no scrape and while the first scrapes run."""
    ledger = Ledger.open(path)
    metrics = Metrics()
    metrics.watch(ledger, PublishScheduler(), accounts)
    try:
        first: list[float] = []
        scraped = writes(ledger, lambda: first.append(timed(metrics.page)), "scraped")
        # as many writes with no scrape: a longer run meets more of SQLite's own checkpoints, whose syncs are the longest
        # waits either way (a floor of 200 writes against the first scrape's thousands would blame the scrape for them)
        alone = writes(ledger, lambda: None, "alone", count=len(scraped))
        after = [timed(metrics.page) for _ in range(scrapes)]
        return {
            "first_scrape_ms": round(first[0], 2),
            "scrape_ms": summary(after),
            "write_ms_alone": summary(alone),
            "write_ms_scraped": summary(scraped),
        }
    finally:
        metrics.stop()
        ledger.close()


def writes(ledger: Ledger, scrape: Callable[[], None], tag: str, count: int = 200) -> list[float]:
    """Milliseconds of each write while `scrape` runs once on another thread: at least `count`, until it is over."""
    began = threading.Event()
    scraper = threading.Thread(target=lambda: (began.set(), scrape()))
    scraper.start()
    began.wait(10)
    at = history.NOW + timedelta(days=1)
    waits: list[float] = []
    while len(waits) < count or scraper.is_alive():  # writing until the scrape is over, however long it takes
        time.sleep(PACE)  # votes come at a person's pace, not in a loop that would hold the GIL and the WAL's checkpoints
        began = time.perf_counter()
        ledger.first_sighting(f"Ev{tag}{len(waits)}", at=at)
        waits.append((time.perf_counter() - began) * 1000)
    scraper.join()
    return waits


def timed(call: Callable[[], Any]) -> float:
    began = time.perf_counter()
    call()
    return (time.perf_counter() - began) * 1000


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 3),
        "p95": round(ordered[int(0.95 * (len(ordered) - 1))], 3),
        "max": round(ordered[-1], 3),
        "n": len(ordered),
    }
