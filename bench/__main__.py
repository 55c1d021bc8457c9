"""python -m bench: run every benchmark (or some), print the table, keep the results in bench/results/."""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bench import ack, approval, ledger_scale, recovery, report, schedule, scrape, sustained
from bench.harness import ROOT, Fakes, fakes
from bench.report import Section

BENCHMARKS: dict[str, Callable[[Path, Fakes, bool], Section]] = {
    "ack": lambda folder, f, quick: ack.run(folder, f, quick=quick),
    "approval": lambda folder, f, quick: approval.run(folder, f, quick=quick),
    "schedule": lambda folder, f, quick: schedule.run(folder, f, quick=quick),
    "recovery": lambda folder, f, quick: recovery.run(folder, f, quick=quick),
    "ledger": lambda folder, f, quick: ledger_scale.run(folder, quick=quick),
    "scrape": lambda folder, f, quick: scrape.run(folder, quick=quick),
    "sustained": lambda folder, f, quick: sustained.run(folder, f, quick=quick),
}


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    top.add_argument(
        "--only", nargs="+", choices=list(BENCHMARKS), metavar="NAME", help=f"run only these: {', '.join(BENCHMARKS)}"
    )
    top.add_argument("--quick", action="store_true", help="small sizes: checks the benchmarks work, in about a minute")
    top.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="where the results go (default: bench/results)")
    top.add_argument("--no-readme", action="store_true", help="leave the README's table as it is")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    started = datetime.now(UTC)
    sections: list[Section] = []
    with fakes() as loopback, tempfile.TemporaryDirectory(prefix="copydesk-bench-") as scratch:
        for name in [n for n in BENCHMARKS if not args.only or n in args.only]:
            folder = Path(scratch) / name
            folder.mkdir(parents=True)
            print(f"running {name}…", file=sys.stderr, flush=True)
            began = time.perf_counter()
            section = BENCHMARKS[name](folder, loopback, args.quick)
            section.seconds = time.perf_counter() - began
            sections.append(section)
            print(f"  {name}: {section.seconds:.0f} s", file=sys.stderr, flush=True)
    results = report.as_json(sections, started=started, quick=args.quick)
    print(report.table(results))
    path = report.write(results, args.out)
    print(f"\nresults in {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}", file=sys.stderr)
    whole_suite = not args.only and not args.quick
    if whole_suite and not args.no_readme and args.out == ROOT / "bench" / "results":
        report.update_readme(ROOT / "README.md", results)
    return 0 if results["met"] else 1


if __name__ == "__main__":
    sys.exit(main())
