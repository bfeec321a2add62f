"""Progress of a long build on the terminal (tqdm), and silence everywhere else.

The builder reports stages through a `Progress`; the base class does nothing, so tests, the
preview server and builds whose output is not a terminal (CI logs, pipes) print no bars.
"""

from __future__ import annotations

import sys
from typing import IO, Any

SHOW_AFTER_SECONDS = 1.0  # a stage that ends sooner never draws a bar: small builds stay quiet


class Progress:
    """Silent progress: the interface the builder calls."""

    def start(self, stage: str, total: int) -> None:
        """A stage of `total` items begins."""

    def advance(self, items: int = 1) -> None:
        """`items` more items of the current stage are done."""

    def finish(self) -> None:
        """The current stage is over."""


class BarProgress(Progress):
    """One tqdm bar per stage, on `stream` (a terminal)."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self.bar: Any = None

    def start(self, stage: str, total: int) -> None:
        from tqdm import tqdm

        self.finish()
        self.bar = tqdm(
            total=total,
            desc=stage,
            unit=" items",
            file=self.stream,
            delay=SHOW_AFTER_SECONDS,
            leave=False,
            dynamic_ncols=True,
        )

    def advance(self, items: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(items)

    def finish(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


def for_terminal(quiet: bool, stream: IO[str] | None = None) -> Progress:
    """Bars when not `quiet` and `stream` (default stderr) is a terminal; otherwise silence."""
    stream = sys.stderr if stream is None else stream
    if quiet or not stream.isatty():
        return Progress()
    return BarProgress(stream)
