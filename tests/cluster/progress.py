"""Progress lines for long work: which step, and how long so far."""

from __future__ import annotations

import sys
import time

_START = time.monotonic()


def step(scope: str, message: str) -> None:
    elapsed = time.monotonic() - _START
    print(f"[{scope} {elapsed:5.0f}s] {message}", file=sys.stderr, flush=True)
