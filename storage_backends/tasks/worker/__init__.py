"""The worker: receives task messages from SQS, runs them, records results, deletes them.

`manage.py sqs_worker` is a thin command over `Worker`, which wires together, one module
per concern:

- `receiving`: receivers long-poll the queues and check each message; whatever a body
  holds, a message that cannot run is dead-lettered with the reason and never runs;
- `running`: `concurrency` task threads (`pool`) run the tasks, each run ending in an
  outcome;
- `limits`: a run past its time limit fails and its thread is replaced (the old one is
  abandoned: a Python thread cannot be killed);
- `progress`: the progress tasks report is written, at most once a second per task;
- `outcomes`: flushers write outcomes in batches and settle their messages;
- `settling`: the SQS actions that end a delivery (delete, hand back, dead-letter, defer);
- `heartbeat`: the heartbeat keeps the messages of running tasks hidden (and their lease
  live) and passes cancel requests on to them; the marker marks long tasks RUNNING;
- `deliveries`: the ledger of received messages and free task threads;
- `storage_backends.tasks.lifecycle` (with `lifecycle=`): a thread reads the instance
  metadata and drains the worker once Auto Scaling is terminating its instance; after the
  drain the worker completes the lifecycle action;
- `storage_backends.tasks.metrics`: a collector counts each run (outcome, run and wait
  times) in memory; a reporter thread writes the worker's report every METRICS_INTERVAL;
- `storage_backends.tasks.schedules` (with `scheduler=`): a thread enqueues the periodic
  tasks' slots, each once across the fleet, until the worker stops;
- `supervision`: stopping, and watching the threads: if a receiver, flusher, heartbeat or
  marker thread dies, the worker hands back what it holds and stops with `failure` set
  (`sqs_worker` then exits non-zero, so that a supervisor starts a new one).

Stopping: the first `stop()` (SIGTERM/SIGINT in the command) stops receiving at once, lets
running tasks finish for up to `shutdown_grace` seconds, then hands the rest back
(visibility 0). A second `stop()` hands everything back at once. A terminating instance
(lifecycle hook) drains the same way, then completes its lifecycle action. `batch=True`
stops once the queues hold no visible or in-flight messages; `max_tasks` after that many
tasks.
"""

import logging
import math
import os
import queue
import socket
import threading
import time

from django.utils.crypto import get_random_string

from ..metrics.collector import Collector
from ..metrics.reporter import Reporter
from .deliveries import MAX_RECEIVE, SERVICE_ERRORS, Delivery, Ledger, Outcome
from .heartbeat import Heartbeat, Marker
from .limits import TimeLimits
from .outcomes import Flusher
from .progress import ProgressWriter
from .receiving import Receiver
from .running import Runner
from .settling import Settler
from .supervision import Control, Crew

# Seconds beyond the long-poll wait a stopping worker gives a receive in flight to return.
RECEIVE_MARGIN = 5

__all__ = ["SERVICE_ERRORS", "Delivery", "Outcome", "Worker", "default_worker_id"]

logger = logging.getLogger("storage_backends.tasks.worker")


def default_worker_id():
    """host-pid-random: which process ran an attempt, as recorded in its result."""
    return f"{socket.gethostname()[:40]}-{os.getpid()}-{get_random_string(4)}"


class Worker:
    """Runs the tasks of one SQSBackend's queues (see the module docstring)."""

    def __init__(self, backend, queue_names=None, concurrency=10, batch=False,
                 max_tasks=None, worker_id=None, wait_seconds=None, shutdown_grace=None,
                 lifecycle=None, scheduler=None):
        self.backend = backend
        self.config = backend.config
        names = tuple(queue_names or backend.queue_names)
        unknown = set(names) - set(backend.queue_names)
        if unknown:
            raise ValueError(f"unknown queue(s) {', '.join(sorted(unknown))}; the backend "
                             f"has {', '.join(backend.queue_names)}")
        self.sqs_names = self.config.sqs_names(names)
        self.concurrency = concurrency
        self.batch = batch
        self.max_tasks = max_tasks
        self.worker_id = worker_id or default_worker_id()
        self.wait_seconds = self.config.wait_seconds if wait_seconds is None else wait_seconds
        self.shutdown_grace = (self.config.shutdown_grace if shutdown_grace is None
                               else shutdown_grace)
        self.visibility = self.config.visibility_timeout
        #: A `storage_backends.tasks.lifecycle.LifecycleHook`, or None.
        self.lifecycle = lifecycle
        #: A `storage_backends.tasks.schedules.scheduler.Scheduler`, or None.
        self.scheduler = scheduler
        #: Why the worker stopped on its own (a thread of it died, or too many tasks ran
        #: past their time limit), or None.
        self.failure = None
        self._runner = None
        self.control = Control()
        self.ledger = Ledger(concurrency)
        self._outcomes = queue.Queue()
        # Orders the writes of one result: RUNNING marks and leases, then its outcome.
        self._mark_lock = threading.Lock()
        self.settler = Settler(backend, self.ledger, self.worker_id, self._mark_lock)
        #: What the worker has run, counted in memory (storage_backends.tasks.metrics).
        self.metrics = Collector(samples=self.config.metrics_emf)

    @property
    def processed(self):
        """Tasks whose outcome was written."""
        return self.ledger.processed

    # -- control --------------------------------------------------------------------------
    def stop(self):
        """First call: finish what runs (within the grace period). Second: stop now."""
        self.control.stop()

    def run(self):
        """Work until stopped, drained (`batch`), `max_tasks` done or a thread of the
        worker dies (then `failure` says which); returns tasks run."""
        control = self.control
        crew = Crew(self.worker_id)
        runner = self._runner = Runner(self.backend, self.ledger, self.settler,
                                       self._outcomes, self.worker_id, self.visibility,
                                       self.concurrency, self.metrics)
        receiver = Receiver(self, runner)
        flusher = Flusher(self.backend, self.ledger, self.settler, self._outcomes, control,
                          self._mark_lock, self.worker_id)
        logger.info("worker=%s starting queues=%s concurrency=%d batch=%s", self.worker_id,
                    ",".join(self.sqs_names), self.concurrency, self.batch)
        receivers = max(1, min(4, math.ceil(self.concurrency / MAX_RECEIVE)))
        for n in range(receivers):
            crew.start(f"receiver-{n}", receiver.loop)
        for n in range(receivers):
            crew.start(f"flusher-{n}", flusher.loop)
        crew.start("heartbeat", Heartbeat(self.backend, self.ledger, control, self._mark_lock,
                                          self.visibility, self.worker_id).loop)
        crew.start("marker", Marker(self.backend, self.ledger, control, self._mark_lock,
                                    self.worker_id).loop)
        crew.start("limits", TimeLimits(runner, self.ledger, self._outcomes, control,
                                        self.concurrency, self.worker_id,
                                        self._give_up).loop)
        crew.start("progress", ProgressWriter(self.backend, self.ledger, control,
                                              self._mark_lock, self.worker_id).loop)
        if self.lifecycle is not None:
            crew.start("lifecycle", lambda: self.lifecycle.watch(control))
        reporter = Reporter(self, self.metrics) if self.config.metrics_interval else None
        if reporter is not None:
            crew.start("metrics", reporter.loop)
        if self.scheduler is not None:
            crew.start("scheduler", lambda: self.scheduler.loop(control))
        self._wait(crew)
        control.stopping.set()
        self.ledger.wake()
        if not control.stop_now.is_set():
            # A long poll in flight still takes messages after its process is gone (SQS
            # hides them for the visibility timeout): let each return, and its receiver
            # hand what it brings back at once. A normal stop waited in _wait already; a
            # thread's death did not.
            crew.join("receiver-", self.wait_seconds + RECEIVE_MARGIN)
        self.settler.delete_lingering(everything=True)  # finished: deleted, not handed back
        handed_back = self.settler.hand_back_all()
        control.stop_now.set()  # flushers and heartbeat end
        runner.shutdown()
        if reporter is not None:
            reporter.report_safely(stopped=True)
        if self.lifecycle is not None:
            # Everything is finished or handed back: the instance may go.
            self.lifecycle.finish()
        if crew.death:
            self.failure = crew.death
        if self.failure:
            logger.error("worker=%s failed processed=%d handed_back=%d failure=%r",
                         self.worker_id, self.processed, handed_back, self.failure)
        else:
            logger.info("worker=%s stopped processed=%d handed_back=%d", self.worker_id,
                        self.processed, handed_back)
        return self.processed

    def _give_up(self, why):
        """Drain and stop with `failure` set (too many threads abandoned: limits.py)."""
        logger.error("worker=%s giving up: %s", self.worker_id, why)
        self.failure = why
        self.control.drain()

    def _wait(self, crew):
        """Until the worker should stop: a death, a stop (and its grace), drained, or
        max_tasks done."""
        control = self.control
        grace_deadline = None
        while not control.stop_now.is_set() and not crew.died.is_set():
            if control.stopping.is_set():
                if grace_deadline is None:
                    grace_deadline = time.monotonic() + self.shutdown_grace
                    logger.info("worker=%s stopping grace=%ss", self.worker_id,
                                self.shutdown_grace)
                if not self._busy() and not crew.alive("receiver-"):
                    return
                if time.monotonic() >= grace_deadline:
                    return
            elif control.drained.is_set() and not self._busy():
                return
            elif self.max_tasks is not None and self.processed >= self.max_tasks \
                    and not self._busy():
                return
            crew.died.wait(0.05)

    @property
    def abandoned_tasks(self):
        """Tasks still running in threads (after run(): their messages were handed back, or
        their time limit gave them an outcome)."""
        with self.ledger.lock:
            running = self.ledger.running
        return running + (self._runner.threads.abandoned if self._runner else 0)

    def _busy(self):
        return bool(self.ledger.held()) or not self._outcomes.empty()
