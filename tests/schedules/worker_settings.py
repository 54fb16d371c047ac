"""Settings of the worker processes that test_worker_processes.py starts: the site's, with
one schedule of the test's own instead of the site's (TEST_SCHEDULE_NAME: every second,
`nap(0, note=TEST_SCHEDULE_NOTE)`, which appends its result id to that file)."""

import os

from project.settings import *  # noqa: F403
from project.settings import TASKS

TASKS["default"]["OPTIONS"]["SCHEDULES"] = {
    os.environ["TEST_SCHEDULE_NAME"]: {
        "TASK": "tests.tasks.process_jobs.nap", "INTERVAL": 1, "ARGS": [0],
        "KWARGS": {"note": os.environ["TEST_SCHEDULE_NOTE"]},
    },
}
