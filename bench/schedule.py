"""3. 1,000 approved drafts due within the same minute: how late each post reaches X, against bare APScheduler."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bench import seed
from bench.harness import ROOT, Fakes, config_file, copydesk, python_env, stop, summary, until
from bench.report import Figure, Section
from bot.config import load_config

FLOOR_RUNS = 3


def floor(count: int) -> tuple[float, list[dict[str, float]]]:
    """The median p99 lateness of FLOOR_RUNS bare schedulers, each firing `count` jobs at one instant."""
    runs = []
    for _ in range(FLOOR_RUNS):
        done = subprocess.run(
            [sys.executable, "-m", "bench.aps_floor", str(count)],
            env=python_env({}),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
        result = json.loads(done.stdout)
        if not result["all_fired"] or len(result["lateness_ms"]) != count:
            raise RuntimeError(f"bare APScheduler fired {len(result['lateness_ms'])} of {count} jobs")
        runs.append(summary(result["lateness_ms"]))
    return statistics.median(r["p99"] for r in runs), runs


def run(workdir: Path, fakes: Fakes, *, quick: bool = False) -> Section:
    count, window, lead = (50, 5, 4.0) if quick else (1000, 60, 12.0)
    floor_p99, floor_runs = floor(count)

    db = workdir / "schedule.db"
    env = fakes.environ(db)
    config = load_config(config_file(workdir / "schedule", reminders={"after_minutes": 0}), env, db=db)
    first = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
    # due on whole seconds, several at each: teams pick round times
    due = [first + timedelta(seconds=n * window // count) for n in range(count)]
    seeded = seed.open_drafts(config, in_review=0, due=due, label="schedule")
    bot = copydesk(config.config_path, env)
    try:
        if datetime.now(UTC) >= first:
            raise RuntimeError(f"copydesk was not up before the first post was due ({lead}s after the start): raise the lead")
        mine = lambda calls: [c for c in calls if c.body.get("text") in seeded.approved]  # noqa: E731 (the fakes are shared)
        # a slow look (every 50 ms): the fake that stamps each arrival shares this process
        until(
            f"{count} posts reaching X",
            lambda: len(mine(fakes.x.arrived("/2/tweets"))) >= count,
            timeout=lead + window + 60,
            step=0.05,
        )
        until("X's last answers", lambda: len(mine(fakes.x.calls("/2/tweets"))) >= count, timeout=30, step=0.05)
    finally:
        stop(bot)
    arrived = [c for c in fakes.x.arrived("/2/tweets") if c.body.get("text") in seeded.approved]
    sent = Counter(c.body.get("text") for c in arrived)
    lateness = [(c.at - seeded.approved[c.body["text"]].timestamp()) * 1000 for c in arrived]
    missing = sorted(set(seeded.approved) - set(sent))
    twice = sorted(text for text, n in sent.items() if n > 1)
    early = sum(1 for late in lateness if late < 0)
    if missing or twice or early:
        raise RuntimeError(f"schedule broken: {len(missing)} missing, {len(twice)} sent twice, {early} early")
    mine = summary(lateness)
    return Section(
        f"Schedule precision ({count} posts due within {window} s)",
        [
            Figure(
                f"lateness p99, {count} posts due within {window} s",
                mine["p99"],
                f"bare APScheduler p99, {count} jobs at one instant",
                floor_p99,
                2.0,
            )
        ],
        details={
            "lateness_ms": mine,
            "early": early,
            "missing": len(missing),
            "twice": len(twice),
            "floor_runs_ms": floor_runs,
            "per_instant": count / window,
        },
    )
