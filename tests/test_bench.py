"""The benchmarks run: a quick pass of each proves it measures what it says (the numbers are for `python -m bench`)."""

from __future__ import annotations

import json
from pathlib import Path

from bench import harness, ledger_scale, report


def test_ledger_scale_quick_measures_the_digest_and_the_list_over_two_histories_without_scanning_them(tmp_path: Path) -> None:
    section = ledger_scale.run(tmp_path, quick=True)

    assert [f.name for f in section.figures] == [
        "digest, 20,000 past posts",
        "/draft list, 20,000 past posts",
        "start (open, migrate, recover), 20,000 past posts",
    ]
    assert all(f.value > 0 and f.floor > 0 and f.limit == (1.5 if f.name.startswith("start") else 2.0) for f in section.figures)
    details = section.details
    assert [ledger["posts"] for ledger in details["ledgers"].values()] == [1_000, 20_000]
    assert details["same_work"]["same"], "both ledgers must give the same digest and list: only the history differs"
    assert details["same_work"]["list_lines"] == 33
    assert details["ledgers"]["20,000 posts"]["stat1_rows"] > 0, "the large ledger has ANALYZE statistics"
    for call in ("digest", "draft_list"):
        plans = details["query_plans"][call]
        assert sum(p["runs"] for p in plans) == details[call]["20,000 posts"]["statements"] > 0
        assert all(p["plan"] for p in plans), "every statement has its query plan"
        assert details[call]["20,000 posts"]["statements"] == details[call]["1,000 posts"]["statements"]
    assert details["full_scans"] == []


def test_a_scan_of_a_history_table_is_what_the_benchmark_flags() -> None:
    flagged = [
        line
        for line in (
            "SCAN drafts",
            "SCAN events USING INDEX events_by_draft",
            "SCAN pauses USING INDEX one_open_pause",
            "SEARCH drafts USING INDEX drafts_by_state (state=?)",
            "SCAN votes",
        )
        if ledger_scale.HISTORY.match(line)
    ]
    assert flagged == ["SCAN drafts", "SCAN events USING INDEX events_by_draft", "SCAN votes"]


def test_the_readme_shows_the_latest_results_as_the_benchmark_wrote_them() -> None:
    """`python -m bench` keeps bench/results/latest.json and the README's table in step; nobody edits either by hand."""
    root = Path(__file__).resolve().parent.parent
    results = json.loads((root / "bench" / "results" / "latest.json").read_text())
    readme = (root / "README.md").read_text()

    assert report.readme_block(results) in readme
    assert not results["quick"], "the README shows a full run, not a quick one"
    assert {s["title"].split(" (")[0] for s in results["sections"]} >= {
        "/draft acknowledgement",
        "Approval to post",
        "Schedule precision",
        "Restart with 10,000 open drafts",
        "Ledger at scale",
    }
    assert results["machine"]["cores"] and results["machine"]["python"]


def test_a_figure_is_held_against_its_floor_by_ratio() -> None:
    met = report.Figure("approval p99", 9.0, "bare Bolt p50", 11.5, 2.0)
    missed = report.Figure("ack p50", 3.0, "no-op p50", 0.4, 2.0)

    assert (round(met.ratio, 3), met.met) == (0.783, True)
    assert (missed.ratio, missed.met) == (7.5, False)


def test_percentiles_are_observed_values_by_nearest_rank() -> None:
    values = [float(n) for n in range(1, 101)]

    assert [harness.percentile(values, q) for q in (50, 95, 99, 100)] == [50.0, 95.0, 99.0, 100.0]
    assert harness.percentile([3.0, 1.0, 2.0], 50) == 2.0
