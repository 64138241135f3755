"""Logging for people: one line per record on stderr, and no flood of the same line.

A server under attack or out of a resource can fail the same way thousands of times a second
(1.6 million "Too many open files" lines were seen in one incident): `RepeatLimiter` lets the
first few records of each kind through per window and then counts the rest, so the log stays
readable and the disk stays free, and the next record of that kind says how many were dropped.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

BURST = 5  # records of one kind let through per window
WINDOW_SECONDS = 60.0


class RepeatLimiter(logging.Filter):
    """At most `burst` records per (logger, level, message template) in each `window`; the first
    one let through after some were dropped says how many."""

    def __init__(
        self, burst: int = BURST, window: float = WINDOW_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__()
        self.burst = burst
        self.window = window
        self.clock = clock
        self._lock = threading.Lock()
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # kind -> [window start, passed, dropped]

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, str(record.msg)[:200])
        now = self.clock()
        with self._lock:
            if len(self._seen) > 10_000:  # bounded, whatever varies in the templates
                self._seen.clear()
            state = self._seen.setdefault(kind, [now, 0, 0])
            if now - state[0] >= self.window:
                dropped = int(state[2])
                state[:] = [now, 0, 0]
                if dropped:
                    record.msg = f"{record.getMessage()} [{dropped} more like this in {self.window:.0f} s]"
                    record.args = None
            if state[1] >= self.burst:
                state[2] += 1
                return False
            state[1] += 1
            return True


def configure(level: str) -> None:
    """Logs to stderr (on stdio, stdout is the JSON-RPC wire), repeated records limited."""
    logging.basicConfig(
        level=logging.getLevelName(level), stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s"
    )
    for handler in logging.getLogger().handlers:
        if not any(isinstance(f, RepeatLimiter) for f in handler.filters):
            handler.addFilter(RepeatLimiter())
