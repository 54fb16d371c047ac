"""Stopping and supervising a worker's threads.

`Control` holds the worker's stop state: the first `stop()` asks it to finish what runs,
the second to stop now (`drain()`, for a terminating instance, is the first without
counting as one). `Crew` starts the worker's own threads (receivers, flushers, heartbeat,
marker, the lifecycle hook's watch) and watches them: each catches what a single delivery
can throw, so a thread that ends with an exception is a fault of the worker itself. The
first such death is logged with its traceback and recorded in `Crew.death`, and
`Crew.died` wakes the worker's main loop, which hands back what it holds and stops;
`manage.py sqs_worker` then exits non-zero so that its supervisor (systemd, the Auto
Scaling group's health check) starts a new one. A process that lives on without a
receiver, or whose heartbeat keeps messages hidden for ever, is what this prevents.
"""

import logging
import threading
import time

logger = logging.getLogger("storage_backends.tasks.worker")


class Control:
    """Whether the worker stops: `stopping` (finish within the grace period), `stop_now`,
    `drained` (batch mode found the queues empty)."""

    def __init__(self):
        self.stopping = threading.Event()
        self.stop_now = threading.Event()
        self.drained = threading.Event()
        self._requests = 0

    def stop(self):
        """First call: finish what runs (within the grace period). Second: stop now."""
        # No locks here: this runs in a signal handler. Waiting threads wake within 0.5 s.
        self._requests += 1
        self.stopping.set()
        if self._requests > 1:
            self.stop_now.set()

    def drain(self):
        """Finish what runs, as a first `stop()` does, without counting as one: the
        instance is terminating (lifecycle hook), and a SIGTERM that follows is still a
        first stop request, not "stop now"."""
        self.stopping.set()


class Crew:
    """Threads started by name; the first one to die of an exception is recorded."""

    def __init__(self, worker_id=""):
        self.worker_id = worker_id
        self.threads = []
        self.died = threading.Event()
        self.death = None  # "thread <name> died: <exception>", once one has
        self._lock = threading.Lock()

    def start(self, name, target):
        thread = threading.Thread(target=self._watch, args=(name, target), name=name,
                                  daemon=True)
        self.threads.append(thread)
        thread.start()
        return thread

    def _watch(self, name, target):
        try:
            target()
        except BaseException as error:  # noqa: BLE001 - any death is the worker's end
            with self._lock:
                if self.death is None:
                    self.death = f"thread {name} died: {type(error).__name__}: {error}"
            logger.critical("worker=%s thread=%s died; the worker stops", self.worker_id,
                            name, exc_info=True)
            self.died.set()

    def alive(self, prefix):
        """Whether a thread whose name starts with `prefix` is still running."""
        return any(t.is_alive() for t in self.threads if t.name.startswith(prefix))

    def join(self, prefix, timeout):
        """Wait up to `timeout` seconds in all for the threads whose names start with `prefix`."""
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            if thread.name.startswith(prefix):
                thread.join(max(0.0, deadline - time.monotonic()))
