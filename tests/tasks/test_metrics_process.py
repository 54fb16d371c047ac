"""Task metrics across real processes: a real `manage.py sqs_worker` runs tasks while a
real gunicorn (two worker processes) answers `/metrics` over HTTP; what the worker ran
shows in every scrape during the run, whichever web process answers, on both stores."""

import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from localaws import free_port
from storage_backends import resources
from storage_backends.provisioning import Provisioner
from tests.tasks import jobs, process_jobs
from tests.tasks.test_worker_process import ROOT, ManageProcess

pytestmark = pytest.mark.slow

TOKEN = "a-scrapers-token-for-this-test"
#: Seconds a test waits for a process to start, or for what it expects to show.
DEADLINE = 60


class Site:
    """The task backend on fresh queues, a sqs_worker and a gunicorn for them."""

    def __init__(self, env):
        self.env = env
        self.processes = []
        self.url = None

    def worker(self, *args):
        process = ManageProcess(["sqs_worker", *args], self.env)
        self.processes.append(process)
        return process

    def start_web(self):
        port = free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--threads", "2",
             "--access-logfile", "/dev/null"],
            cwd=ROOT, env=self.env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        self.processes.append(process)
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + DEADLINE
        while True:
            try:
                requests.get(self.url + "/healthz", timeout=5)
                return
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"gunicorn did not answer (exit {process.poll()})")
                time.sleep(0.05)  # polling a starting process, with the deadline above

    def scrape(self):
        response = requests.get(self.url + "/metrics", timeout=10,
                                headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text[:500]
        return response.text

    def scrape_until(self, *patterns):
        """The first scrape in which every regular expression of `patterns` matches."""
        deadline = time.monotonic() + DEADLINE
        while True:
            text = self.scrape()
            if all(re.search(pattern, text, re.M) for pattern in patterns):
                return text
            if time.monotonic() > deadline:
                raise AssertionError(f"not within {DEADLINE} s: {patterns}\n{text}")
            time.sleep(0.2)  # polling other processes' reports, with the deadline above

    def stop(self):
        for process in self.processes:
            if isinstance(process, ManageProcess):
                process.kill()
            elif process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(30)


@pytest.fixture(params=["simpledb", "dynamodb"])
def site(request, settings, aws_env, tmp_path):
    """A Site on the store of the test's parameter."""
    from tests.fixtures.state_store import use_state_store

    store = request.param
    use_state_store(settings, store)
    prefix = f"m{uuid.uuid4().hex[:10]}-"
    tasks = settings.TASKS["default"]
    settings.TASKS = {"default": {**tasks, "OPTIONS": {
        **tasks["OPTIONS"], "QUEUE_PREFIX": prefix, "VISIBILITY_TIMEOUT": 30,
        "WAIT_SECONDS": 1, "SHUTDOWN_GRACE": 1}}}
    provisioner = Provisioner()
    for queue in resources.queues():
        provisioner.ensure_queue(queue)
    for name in resources.domains():
        provisioner.ensure_domain(name)
    for name in resources.tables():
        provisioner.ensure_table(name)
    made = Site({
        **os.environ, "DJANGO_SETTINGS_MODULE": "project.settings",
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'site.sqlite3'}",
        "LOG_LEVEL": "INFO", "PYTHONUNBUFFERED": "1", "STRATUS_STATE_STORE": store,
        "STRATUS_SQS_QUEUE_PREFIX": prefix, "STRATUS_TASK_VISIBILITY_TIMEOUT": "30",
        "STRATUS_TASK_WAIT_SECONDS": "1", "STRATUS_TASK_SHUTDOWN_GRACE": "1",
        "STRATUS_TASK_METRICS_INTERVAL": "1", "STRATUS_METRICS_TOKEN": TOKEN,
    })
    made.queue = prefix + "default"
    yield made
    made.stop()


def test_a_scrape_during_the_run_shows_what_the_worker_process_ran(site):
    site.start_web()
    worker_id = f"proc-{uuid.uuid4().hex[:6]}"
    worker = site.worker("--worker-id", worker_id, "--concurrency", "4")
    worker.wait_for(r"worker=\S+ starting")
    for n in range(3):
        jobs.add.enqueue(n, n)
    jobs.fails_once_only.enqueue(f"process-{uuid.uuid4().hex}")
    running = process_jobs.nap.enqueue(30)
    worker.wait_for(rf"job=nap id={running.id} .* started")

    labels = f'worker="{worker_id}",queue="{site.queue}"'
    text = site.scrape_until(
        rf'^stratus_tasks_total\{{{labels},task="tests.tasks.jobs.add",outcome="succeeded"\}} 3$',
        rf'^stratus_tasks_total\{{{labels},task="tests.tasks.jobs.fails_once_only",'
        rf'outcome="failed"\}} 1$',
        rf'^stratus_worker_tasks_running\{{worker="{worker_id}"\}} 1$')
    assert worker.popen.poll() is None  # scraped while the worker runs
    assert f'stratus_worker_up{{worker="{worker_id}"}} 1' in text
    assert re.search(rf'^stratus_task_run_seconds_count\{{{labels},'
                     rf'task="tests.tasks.jobs.add"\}} 3$', text, re.M)
    assert re.search(rf'^stratus_queue_workers\{{queue="{site.queue}"\}} 1$', text, re.M)
    assert re.search(rf'^stratus_dead_letter_messages\{{queue="{site.queue}"\}} 1$', text,
                     re.M)

    # Every scrape answers the same counts, whichever of gunicorn's processes answers it.
    counters = re.compile(rf"^stratus_tasks_total\{{{labels},.*$", re.M)
    scrapes = {tuple(counters.findall(site.scrape())) for _ in range(8)}
    assert len(scrapes) == 1, scrapes

    worker.signal(signal.SIGTERM)
    assert worker.wait() == 0, worker.output()
    site.scrape_until(rf'^stratus_worker_up\{{worker="{worker_id}"\}} 0$')
