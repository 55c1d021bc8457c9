"""The weekly report's chart: posts and engagement per day, as a PNG of a fixed size.

matplotlib is imported inside `draw`, with the Agg backend and no pyplot (no display, no global figure state, safe
on the scheduler's threads), so starting copydesk never pays for it.
"""

from __future__ import annotations

import io

from bot.dryrun import not_sent
from bot.weekly import WeeklyReport

WIDTH, HEIGHT, DPI = 8.0, 4.0, 100  # inches and dots per inch: always 800 × 400 pixels
POSTS_COLOUR, ENGAGEMENT_COLOUR = "#1d9bf0", "#f4a100"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def draw(report: WeeklyReport) -> bytes:
    """A bar chart of each day's posts (left axis) and interactions (right axis); the PNG's bytes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    figure = Figure(figsize=(WIDTH, HEIGHT), dpi=DPI)
    FigureCanvasAgg(figure)
    posts_axis = figure.add_subplot()
    engagement_axis = posts_axis.twinx()
    labels = [f"{d.day:%a}\n{d.day:%b} {d.day.day}" for d in report.days]
    places = list(range(len(report.days)))
    half = 0.38
    posts_axis.bar([x - half / 2 for x in places], [d.posts for d in report.days], half, color=POSTS_COLOUR, label="posts")
    engagement_axis.bar(
        [x + half / 2 for x in places],
        [d.interactions for d in report.days],
        half,
        color=ENGAGEMENT_COLOUR,
        label="likes, reposts, replies, quotes",
    )
    posts_axis.set_xticks(places, labels)
    posts_axis.set_ylabel("posts", color=POSTS_COLOUR)
    engagement_axis.set_ylabel("interactions", color=ENGAGEMENT_COLOUR)
    for axis in (posts_axis, engagement_axis):
        axis.yaxis.set_major_locator(MaxNLocator(integer=True))  # no half posts
        axis.set_ylim(bottom=0, top=max(axis.get_ylim()[1], 1))
    for day, x in zip(report.days, places, strict=True):
        if day.unread:  # its posts have no counts yet (a dry run's never): say so, not a bar at 0 that reads "nobody cared"
            said = "dry run" if day.only_dry_runs else "not read"
            engagement_axis.annotate(said, (x + half / 2, 0), ha="center", va="bottom", fontsize=7, rotation=90)
    figure.suptitle(title(report), fontsize=11)
    figure.legend(loc="upper right", fontsize=8, frameon=False)
    figure.tight_layout()
    out = io.BytesIO()
    figure.savefig(out, format="png", dpi=DPI, metadata={"Software": None})
    return out.getvalue()


def title(report: WeeklyReport) -> str:
    """@aplusk · 5 posts · 123 interactions; with "DRY RUN — not sent to X" when the week holds dry runs, so the image
    says it too wherever it is shared."""
    handles = ", ".join(f"@{h}" for h in report.handles)
    said = f"{handles} · {report.posts} posts · {report.interactions} interactions".lstrip(" ·")
    if report.dry_runs:
        some = "all" if report.dry_runs == report.posts else f"{report.dry_runs} of them"
        said += f" · {not_sent(report.dry_networks)} ({some})"
    return said
