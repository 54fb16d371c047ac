"""Fixtures for the task backend: a fresh set of queues per test, and a worker."""

import uuid

import pytest

from tests.tasks import jobs


@pytest.fixture
def task_options():
    """OPTIONS the `tasks` fixture uses; a test may change them before asking for it."""
    return {
        "WAIT_SECONDS": 1,
        "VISIBILITY_TIMEOUT": 5,
        "RETRY_DELAY": 1,
        "RETRY_DELAY_MAX": 2,
        "MAX_ATTEMPTS": 3,
        "MAX_RECEIVE_COUNT": 10,
        "SHUTDOWN_GRACE": 5,
    }


@pytest.fixture
def results_store():
    """Where the `tasks` fixture keeps results; `tests.tasks.stores.on_both_stores` runs a
    test on each store."""
    return "simpledb"


@pytest.fixture
def tasks(settings, task_options, results_store):
    """The default SQSBackend on its own freshly provisioned queues (prefix per test)."""
    from django.tasks import task_backends

    from storage_backends import resources
    from storage_backends.provisioning import Provisioner

    settings.TASKS = {"default": {
        "BACKEND": "storage_backends.tasks.SQSBackend",
        "QUEUES": ["default", "other"],
        "OPTIONS": {
            "QUEUE_PREFIX": f"t{uuid.uuid4().hex[:10]}-",
            "RESULTS_STORE": results_store,
            "RESULTS_DOMAIN": "stratus-task-results",
            "RESULTS_TABLE": "stratus-task-results",
            "PAYLOAD_BUCKET": settings.STRATUS_MEDIA_BUCKET,
            **task_options,
        },
    }}
    provisioner = Provisioner()
    for queue in resources.queues():
        provisioner.ensure_queue(queue)
    if results_store == "dynamodb":
        provisioner.ensure_table("stratus-task-results")
    else:
        provisioner.ensure_domain("stratus-task-results")
    jobs.calls.clear()
    return task_backends["default"]


@pytest.fixture
def run_worker(tasks):
    """Run an in-process worker in batch mode until the queues are drained."""
    from storage_backends.tasks.worker import Worker

    def run(**options):
        options.setdefault("batch", True)
        options.setdefault("concurrency", 4)
        worker = Worker(tasks, **options)
        worker.run()
        return worker

    return run
