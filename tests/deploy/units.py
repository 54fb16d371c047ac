"""The systemd units in deploy/systemd/, read as systemd reads them, for tests to compare.

`stop_timeout("stratus-web.service")` is the web unit's TimeoutStopSec in seconds: the
template's tests compare the target group's deregistration delay and the worker hook's
heartbeat timeout with these.
"""

import re
from pathlib import Path

UNITS = Path(__file__).resolve().parents[2] / "deploy" / "systemd"
WEB = "stratus-web.service"
WORKER = "stratus-worker.service"
#: systemd's time span units, in seconds (systemd.time(7)).
TIME_UNITS = {"": 1, "s": 1, "sec": 1, "second": 1, "seconds": 1, "m": 60, "min": 60,
              "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600,
              "hours": 3600, "ms": 0.001, "msec": 0.001}


def read_unit(name):
    """{section: {key: [values in order]}} of a unit file (keys may repeat, as systemd allows)."""
    sections, current = {}, None
    lines = (UNITS / name).read_text().replace("\\\n", " ").splitlines()
    for line in lines:
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], {})
            continue
        key, _, value = line.partition("=")
        current.setdefault(key.strip(), []).append(value.strip())
    return sections


def value(name, key, section="Service", default=None):
    """The last value of `key` (the one systemd applies to a single-valued setting), or
    `default` if the unit does not set it."""
    values = read_unit(name)[section].get(key)
    return values[-1] if values else default


def seconds(span):
    """A systemd time span ("75", "90s", "1min 30s") in seconds."""
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", span.strip())
    if not parts or "".join(number + unit for number, unit in parts) != span.replace(" ", ""):
        raise ValueError(f"not a time span: {span!r}")
    return sum(float(number) * TIME_UNITS[unit] for number, unit in parts)


def stop_timeout(name):
    """The unit's TimeoutStopSec, in seconds."""
    return seconds(value(name, "TimeoutStopSec"))


def start_timeout(name):
    """The unit's TimeoutStartSec, in seconds."""
    return seconds(value(name, "TimeoutStartSec"))
