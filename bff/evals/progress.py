"""The progress bar of ``bff eval`` on the terminal (stderr; nothing when not a terminal)."""

from __future__ import annotations

from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)

from bff.evals.run_file import CaseResult


class ProgressBar:
    """``with ProgressBar(total, label) as bar: ... bar.advance(result)``."""

    def __init__(self, total: int, label: str, *, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[failed]} not passed"),
            TimeElapsedColumn(),
            console=self._console,
            transient=True,
            disable=not self._console.is_terminal,
        )
        self._task = self._progress.add_task(label, total=total, failed=0)
        self._failed = 0

    def advance(self, result: CaseResult) -> None:
        self._failed += not result.passed
        self._progress.update(self._task, advance=1, failed=self._failed)

    def __enter__(self) -> ProgressBar:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._progress.stop()
