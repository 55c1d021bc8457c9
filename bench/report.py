"""The results of a run: figures against their floors, as a table, as JSON and as the README's block."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

README_START, README_END = "<!-- bench:start -->", "<!-- bench:end -->"


@dataclass(frozen=True)
class Figure:
    """One measured figure next to the floor it is held against, and the ratio the target is about."""

    name: str  # what was measured, e.g. "/draft ack p50, 1 sender"
    value: float
    floor_name: str  # what the floor is, e.g. "bare Bolt ack p50, 1 sender"
    floor: float
    limit: float  # the target: ratio ≤ limit
    unit: str = "ms"

    @property
    def ratio(self) -> float:
        return self.value / self.floor if self.floor else float("inf")

    @property
    def met(self) -> bool:
        return self.ratio <= self.limit


@dataclass
class Section:
    """One benchmark of the suite: its figures, and what else it saw (percentiles, counts, query plans)."""

    title: str
    figures: list[Figure] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0  # how long the benchmark took, set-up included


def machine() -> dict[str, Any]:
    """What the figures were measured on: they are only comparable on the same kind of machine."""
    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "implementation": sys.implementation.name,
        "platform": platform.platform(terse=True),
        "machine": platform.machine(),
    }


def as_json(sections: list[Section], *, started: datetime, quick: bool) -> dict[str, Any]:
    return {
        "started": started.astimezone(UTC).isoformat(timespec="seconds"),
        "quick": quick,
        "machine": machine(),
        "met": all(f.met for s in sections for f in s.figures),
        "sections": [
            {
                "title": s.title,
                "seconds": round(s.seconds, 1),
                "figures": [{**asdict(f), "ratio": round(f.ratio, 3), "met": f.met} for f in s.figures],
                "details": s.details,
            }
            for s in sections
        ],
    }


def _number(value: float, unit: str) -> str:
    if unit == "MiB":
        return f"{value:.1f} MiB"
    if unit == "s":
        return f"{value:.2f} s"
    if unit != "ms":  # a count (votes lost)
        return f"{value:g} {unit}"
    return f"{value:.2f} ms" if value < 10 else f"{value:.1f} ms"


def table(results: dict[str, Any]) -> str:
    """The Markdown table of every figure: what the README shows and `python -m bench` prints."""
    m = results["machine"]
    lines = [
        f"Measured {results['started']} on {m['cores']} cores, Python {m['python']} ({m['platform']})"
        + (" — quick run, not for comparison" if results.get("quick") else "")
        + ".",
        "",
        "| Figure | Value | Floor (same run) | Floor value | Ratio | Target | |",
        "|---|---:|---|---:|---:|---:|---|",
    ]
    for section in results["sections"]:
        for f in section["figures"]:
            lines.append(
                f"| {f['name']} | {_number(f['value'], f['unit'])} | {f['floor_name']} | {_number(f['floor'], f['unit'])} "
                f"| {f['ratio']:.2f} | ≤ {f['limit']:g} | {'met' if f['met'] else '**missed**'} |"
            )
    return "\n".join(lines)


def write(results: dict[str, Any], folder: Path) -> Path:
    """Keep the latest results (JSON and the table) in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "latest.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (folder / "latest.md").write_text(table(results) + "\n")
    return path


def readme_block(results: dict[str, Any]) -> str:
    return f"{README_START}\n{table(results)}\n{README_END}"


def update_readme(readme: Path, results: dict[str, Any]) -> None:
    """Put the table between the README's bench markers."""
    text = readme.read_text()
    start, end = text.index(README_START), text.index(README_END) + len(README_END)
    readme.write_text(text[:start] + readme_block(results) + text[end:])
