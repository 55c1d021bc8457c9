"""1. How fast /draft is acknowledged, against a bare Bolt app and a no-op route on the same server, in the same run."""

from __future__ import annotations

from pathlib import Path

from bench.floor_app import NOOP_PATH
from bench.harness import READY, Fakes, config_file, copydesk, spawn, stop, summary
from bench.load import run_load
from bench.report import Figure, Section
from bot.runtime.server import SLACK_PATH
from tests.support.process import Running

LEVELS = (1, 10, 50)


def run(workdir: Path, fakes: Fakes, *, quick: bool = False) -> Section:
    """Each concurrency level in rounds, the three targets taking turns, so noise falls on all of them alike."""
    rounds, total = (2, {1: 20, 10: 40, 50: 100}) if quick else (4, {1: 400, 10: 600, 50: 1000})
    env = fakes.environ(workdir / "ack.db")
    bot = copydesk(config_file(workdir / "ack"), env)
    floor = Running(spawn("bench.floor_app", [], env), ready=READY)
    targets = {"copydesk": (bot.url, SLACK_PATH), "bare Bolt": (floor.url, SLACK_PATH), "no-op route": (floor.url, NOOP_PATH)}
    response_url = fakes.slack.response_url("bench")
    seen: dict[tuple[str, int], list[float]] = {}
    cards = len(fakes.slack.calls("/api/chat.postMessage"))  # the fakes are shared by the whole run
    links = len(fakes.slack.calls("/respond/bench"))

    def settle(drafts: int) -> None:
        """copydesk's cards go up after its acknowledgements: let every card, and the private link to it (the last
        step), be posted before the next target is timed, so that work does not slow the floors down."""
        nonlocal cards, links
        cards, links = cards + drafts, links + drafts
        fakes.slack.wait_for("/api/chat.postMessage", cards, timeout=120)
        fakes.slack.wait_for("/respond/bench", links, timeout=120)

    try:
        for name, (url, path) in targets.items():
            run_load(url, path, 5, 10, f"warm-up {name}", response_url)
            if name == "copydesk":
                settle(5 * 10)
        for senders in LEVELS:
            per_sender = max(1, total[senders] // rounds // senders)
            for turn in range(rounds):
                order = list(targets)[turn % 3 :] + list(targets)[: turn % 3]
                for name in order:
                    url, path = targets[name]
                    seen.setdefault((name, senders), []).extend(
                        run_load(url, path, senders, per_sender, f"{name} {senders}x{turn}", response_url)
                    )
                    if name == "copydesk":
                        settle(senders * per_sender)
    finally:
        stop(bot)
        floor.process.terminate()
        floor.process.wait(15)
    stats = {f"{name}, {senders} sender(s)": summary(values) for (name, senders), values in seen.items()}
    section = Section("/draft acknowledgement", details={"latency_ms": stats})
    for senders in LEVELS:
        mine, bare = stats[f"copydesk, {senders} sender(s)"], stats[f"bare Bolt, {senders} sender(s)"]
        for q in ("p50", "p99") if senders < 50 else ("p50",):
            section.figures.append(
                Figure(f"/draft ack {q}, {senders} sender{'s' * (senders > 1)}", mine[q], f"bare Bolt ack {q}", bare[q], 1.0)
            )
    noop = stats["no-op route, 1 sender(s)"]
    section.figures.append(
        Figure("/draft ack p50, 1 sender", stats["copydesk, 1 sender(s)"]["p50"], "no-op route p50", noop["p50"], 2.0)
    )
    return section
