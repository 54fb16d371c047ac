"""Latency, failure and eventual-consistency injection, changeable while the emulator runs.

- `latency_ms`: added to every call before it is handled.
- `fail_rate`: the fraction of calls answered 503 ServiceUnavailable, before they touch any
  data (so a retried call is safe, as with the real service).
- `stale_read_rate`: the probability that a read without ConsistentRead sees items as they
  were before their latest write: GetAttributes returns that earlier state of the item, and a
  Select is evaluated, as a whole, over every item's earlier state.
"""

import random
import threading
import time

#: Longest injectable latency: a minute, far past any client's read timeout.
MAX_LATENCY_MS = 60_000


def _number(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{name} must be a number, not {value!r}")
    return float(value)


def _rate(name, value):
    value = _number(name, value)
    if not 0.0 <= value <= 1.0:  # also rejects NaN
        raise ValueError(f"{name} must be between 0 and 1, not {value}")
    return value


def _latency(value):
    value = _number("latency_ms", value)
    if not 0.0 <= value <= MAX_LATENCY_MS:  # also rejects NaN and infinity
        raise ValueError(f"latency_ms must be between 0 and {MAX_LATENCY_MS}, not {value}")
    return value


class Faults:
    """The current injection settings; `update()` changes them atomically."""

    FIELDS = ("latency_ms", "fail_rate", "stale_read_rate")

    def __init__(self, latency_ms=0, fail_rate=0.0, stale_read_rate=0.0, seed=None):
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self.latency_ms = 0.0
        self.fail_rate = 0.0
        self.stale_read_rate = 0.0
        self.update(latency_ms=latency_ms, fail_rate=fail_rate, stale_read_rate=stale_read_rate)

    def update(self, **settings):
        """Set any of latency_ms, fail_rate, stale_read_rate; raises ValueError if invalid."""
        unknown = set(settings) - set(self.FIELDS)
        if unknown:
            raise ValueError(f"unknown setting(s): {', '.join(sorted(unknown))}")
        checked = {
            name: _latency(value) if name == "latency_ms" else _rate(name, value)
            for name, value in settings.items()
        }
        with self._lock:
            for name, value in checked.items():
                setattr(self, name, value)

    def as_dict(self):
        with self._lock:
            return {name: getattr(self, name) for name in self.FIELDS}

    def _chance(self, probability):
        if probability <= 0:
            return False
        with self._lock:
            return self._random.random() < probability

    def delay(self):
        if self.latency_ms > 0:
            time.sleep(self.latency_ms / 1000)

    def should_fail(self):
        return self._chance(self.fail_rate)

    def should_read_stale(self):
        return self._chance(self.stale_read_rate)
