"""The benchmarks run: a quick pass of each proves it measures what it says (the numbers are for `python -m bench`)."""

from __future__ import annotations

from pathlib import Path

from bench import ledger_scale


def test_ledger_scale_quick_measures_the_digest_and_the_list_over_two_histories_without_scanning_them(tmp_path: Path) -> None:
    section = ledger_scale.run(tmp_path, quick=True)

    assert [f.name for f in section.figures] == ["digest, 20,000 past posts", "/draft list, 20,000 past posts"]
    assert all(f.value > 0 and f.floor > 0 and f.limit == 2.0 for f in section.figures)
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
    flagged = [line for line in ("SCAN drafts", "SCAN events USING INDEX events_by_draft", "SCAN pauses USING INDEX one_open_pause",
                                 "SEARCH drafts USING INDEX drafts_by_state (state=?)", "SCAN votes")
               if ledger_scale.HISTORY.match(line)]
    assert flagged == ["SCAN drafts", "SCAN events USING INDEX events_by_draft", "SCAN votes"]
