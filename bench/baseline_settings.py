"""The baseline of the chaos run: the same site configured as a default Django project.

What `startproject` gives, or what its documentation suggests first, for every piece of state
Stratus keeps off the node: sessions in files on the node's own disk, LocMemCache for every
cache (the log-in throttle's too), uploads on the node's disk (served by the node itself),
and tasks run in the request by ImmediateBackend (a default project has no queue). The
database stays the shared one the fleet gives (DATABASE_URL), as a default project behind a
balancer would share it. Everything else, the fast password hasher included, is Stratus's
(bench/fleet_settings.py), so the two runs differ only in where state lives.

STRATUS_BASELINE_DIR names the node's own directory; the fleet gives each node its own.
"""

import os
from pathlib import Path

from bench.fleet_settings import *  # noqa: F403
from bench.fleet_settings import VAR_DIR

BASELINE_DIR = Path(os.environ.get("STRATUS_BASELINE_DIR", VAR_DIR / "baseline"))

SESSION_ENGINE = "django.contrib.sessions.backends.file"
SESSION_FILE_PATH = BASELINE_DIR / "sessions"
SESSION_FILE_PATH.mkdir(parents=True, exist_ok=True)  # Django's file engine will not create it

CACHES = {
    alias: {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": alias}
    for alias in ("default", "login_failures")
}
# accounts.E002 refuses a per-process log-in failure cache, rightly: the baseline is the
# configuration that check exists to prevent.
SILENCED_SYSTEM_CHECKS = ["accounts.E002"]

MEDIA_ROOT = BASELINE_DIR / "media"
MEDIA_URL = "/media/"
STORAGES = {
    **STORAGES,  # noqa: F405 (static files stay as the project serves them)
    "default": {"BACKEND": "bench.baseline_urls.NodeDiskStorage"},
}
ROOT_URLCONF = "bench.baseline_urls"

TASKS = {"default": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"}}
