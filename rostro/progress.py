"""The one progress bar every long step shows: what runs, a bar, done of total, time left."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn


def progress_bar(label: str, *, enabled: bool = True, transient: bool = True, stats: str = "") -> Progress:
    """A bar headed by ``label`` (a rich format string, so it may show a task's fields); ``stats``
    adds a text column before the time left (training's speed and loss). A ``transient`` bar is
    cleared when it closes; a disabled one draws nothing, so callers need no second code path."""
    columns = [TextColumn(label), BarColumn(), MofNCompleteColumn(), *([TextColumn(stats)] if stats else [])]
    return Progress(*columns, TimeRemainingColumn(), disable=not enabled, transient=transient)
