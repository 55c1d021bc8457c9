"""4 and 6. A start on 10,000 open drafts against a start on an empty ledger: time to a bot that answers with its
whole schedule rebuilt, and resident memory once it does."""

from __future__ import annotations

import shutil
import statistics
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import seed
from bench.harness import READY, Fakes, config_file, health, rss_mib, spawn, stop, until
from bench.report import Figure, Section
from bot.config import load_config
from tests.support.process import Running

STARTS = 3  # timed starts of each ledger (after one untimed start that settles what a first start does once)


def start_once(config: Path, env: dict[str, str], scheduled: int, reminders: int) -> tuple[float, float]:
    """Seconds from spawning `copydesk run` to /healthz answering with the full schedule, and its RSS then (MiB)."""
    began = time.perf_counter()
    process = spawn("bot.runtime.cli", ["run", "--config", str(config), "--host", "127.0.0.1", "--port", "0"], env)
    running = Running(process, ready=READY)  # the port is open only once the ledger is recovered
    answer = until(
        "copydesk answering with its schedule rebuilt",
        lambda: (h := health(running.url)) and h["scheduled"] == scheduled and h["reminders"] == reminders and h,
        timeout=120,
        step=0.001,
    )
    took = time.perf_counter() - began
    memory = rss_mib(process.pid)
    assert answer["status"] == "ok"
    stop(running)
    return took, memory


def measure(config: Path, env: dict[str, str], scheduled: int, reminders: int) -> dict[str, float]:
    start_once(config, env, scheduled, reminders)  # a first start catches up the digest and plans it: once only
    runs = [start_once(config, env, scheduled, reminders) for _ in range(STARTS)]
    return {
        "start_s": statistics.median(t for t, _ in runs),
        "rss_mib": statistics.median(m for _, m in runs),
        "starts_s": [round(t, 3) for t, _ in runs],
        "rss_runs_mib": [round(m, 1) for _, m in runs],
    }


def run(workdir: Path, fakes: Fakes, *, quick: bool = False) -> Section:
    in_review, scheduled = (100, 100) if quick else (5000, 5000)
    folder = workdir / "recovery"
    config_path = config_file(folder)  # reminders after two hours: every draft in review has one planned

    empty_db = folder / "empty.db"
    seed.empty_ledger(empty_db)
    empty = measure(config_path, fakes.environ(empty_db), 0, 0)

    full_db = folder / "full.db"
    env = fakes.environ(full_db)
    now = datetime.now(UTC)
    due = [now + timedelta(days=1) + timedelta(minutes=n * 7) for n in range(scheduled)]  # over the next month
    began = time.perf_counter()
    seed.open_drafts(load_config(config_path, env, db=full_db), in_review=in_review, due=due, label="recovery")
    seeding = time.perf_counter() - began
    full = measure(config_path, env, scheduled, in_review)
    shutil.rmtree(folder, ignore_errors=True)

    total = in_review + scheduled
    return Section(
        f"Restart with {total:,} open drafts",
        [
            Figure(f"start to answering, {total:,} drafts", full["start_s"], "start, empty ledger", empty["start_s"], 2.0, "s"),
            Figure(
                f"RSS after recovering {total:,} drafts", full["rss_mib"], "RSS idle, empty ledger", empty["rss_mib"], 1.5, "MiB"
            ),
        ],
        details={"empty": empty, "full": full, "in_review": in_review, "scheduled": scheduled, "seeding_s": round(seeding, 1)},
    )
