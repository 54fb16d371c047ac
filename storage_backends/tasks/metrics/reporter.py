"""The worker's side of the metrics: a thread that, every METRICS_INTERVAL seconds, writes
the worker's report to the metrics store (one call) and, with METRICS_EMF, logs the EMF
lines of the interval. A last report, marked stopped, is written when the worker stops.

A report that cannot be written is logged and the next one replaces it (reports are
cumulative): the thread never dies of it, and the worker never waits for it.
"""

import logging
import threading
import time

from ..worker.deliveries import SERVICE_ERRORS
from . import emf, records

logger = logging.getLogger("storage_backends.tasks.worker")


class Reporter:
    """Reports one worker's figures (a `collector.Collector`) and state."""

    def __init__(self, worker, collector):
        self.worker = worker
        self.collector = collector
        self.config = worker.config
        self.interval = self.config.metrics_interval
        self.started = time.time()
        self._emitted = {}  # (queue, task) -> counts at the last EMF line
        # One report at a time, and none after the last: a report of the thread still
        # being written must not land over the stopped one.
        self._lock = threading.Lock()
        self._stopped = False

    def loop(self):
        """Report every interval until the worker stops now (its thread's target)."""
        try:
            pruned = self.worker.backend.metrics.prune()
            if pruned:
                logger.info("worker=%s metrics records expired deleted=%d",
                            self.worker.worker_id, pruned)
        except SERVICE_ERRORS as error:
            logger.warning("worker=%s metrics prune failed error=%r", self.worker.worker_id,
                           error)
        self.report_safely()
        while not self.worker.control.stop_now.wait(self.interval):
            self.report_safely()

    def report_safely(self, stopped=False):
        """Report (`stopped`: the worker's last); log (never raise) whatever goes wrong."""
        with self._lock:
            if self._stopped:
                return
            self._stopped = stopped
            try:
                self.report(stopped)
            except SERVICE_ERRORS as error:
                logger.warning("worker=%s metrics report failed error=%r",
                               self.worker.worker_id, error)
            except Exception:  # noqa: BLE001 - figures must never stop the worker
                logger.exception("worker=%s metrics report failed", self.worker.worker_id)

    def report(self, stopped=False):
        worker = self.worker
        now = time.time()
        interval = self.collector.take_interval()
        if self.config.metrics_emf:
            emf.log(emf.documents(interval, self._emitted, worker.sqs_names,
                                  self.config.metrics_namespace, now))
        with worker.ledger.lock:
            running = worker.ledger.running
        document = records.document(
            worker=worker.worker_id, started=self.started, at=now, interval=self.interval,
            stopped=stopped, queues=worker.sqs_names, concurrency=worker.concurrency,
            running=running, processed=worker.processed, series=interval.series,
            longest_wait=interval.longest_wait)
        worker.backend.metrics.write(worker.worker_id, document, now)
