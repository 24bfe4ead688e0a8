"""The pipeline clock: one time base shared by audio sources, sinks and latency measurements.

Times are seconds from time.monotonic(), so every Clock instance (and any code that reads
time.monotonic() directly) agrees; they are only meaningful as differences.
"""

from __future__ import annotations

import threading
import time


class Clock:
    """Monotonic seconds; subclass and override now() to run a pipeline on another time base."""

    def now(self) -> float:
        return time.monotonic()

    def wait_until(self, deadline: float, stop: threading.Event | None = None) -> bool:
        """Sleep until now() >= deadline; return False at once if `stop` is set first.

        Waiting on an Event (not time.sleep) is what lets another thread interrupt a paced
        source or sink without delay.
        """
        while True:
            remaining = deadline - self.now()
            if remaining <= 0:
                return True
            if stop is None:
                time.sleep(remaining)
            elif stop.wait(remaining):
                return False


def default_clock(clock: Clock | None) -> Clock:
    """The clock to use when a caller passes None (all Clocks share time.monotonic anyway)."""
    return clock if clock is not None else Clock()
