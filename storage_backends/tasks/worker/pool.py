"""The task threads: a fixed number take runs from a queue, and one whose run is abandoned
is replaced at once.

A Python thread cannot be killed. When a run passes its time limit, the worker records its
outcome without it and `abandon`s its thread: a new thread takes its place, so the worker
runs as many tasks at once as before, and the old one retires when its task returns (its
late outcome is ignored: `Ledger.end_run`). Threads are daemons, so a worker that exits
does not wait for an abandoned task.
"""

import itertools
import queue
import threading


class TaskThreads:
    """`size` threads calling `run(item)` for each submitted item."""

    def __init__(self, size, run, name="task"):
        self._run = run
        self._name = name
        self._numbers = itertools.count()
        self._work = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._closed = False
        self._retiring = set()   # abandoned threads whose task has not returned yet
        self._running = {}       # thread -> the item it runs
        self._size = size
        for _ in range(size):
            self._start()

    def _start(self):
        thread = threading.Thread(target=self._loop, name=f"{self._name}_{next(self._numbers)}",
                                  daemon=True)
        thread.start()

    def _loop(self):
        me = threading.current_thread()
        while True:
            item = self._work.get()
            if item is None:
                return
            with self._lock:
                self._running[me] = item
            self._run(item)
            with self._lock:
                del self._running[me]
                if me in self._retiring:
                    self._retiring.discard(me)
                    return

    def submit(self, item):
        """Queue `item` for the next free thread; RuntimeError once shut down."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the task threads are shut down")
            self._work.put(item)

    def thread_of(self, item):
        """The thread running `item`, or None."""
        with self._lock:
            return next((t for t, running in self._running.items() if running is item), None)

    def abandon(self, item):
        """Stop counting the thread that runs `item` (its task overran) and start another
        in its place; the thread, or None if `item` is not running any more."""
        with self._lock:
            thread = next((t for t, running in self._running.items() if running is item),
                          None)
            if thread is None or thread in self._retiring:
                return None
            self._retiring.add(thread)
            if not self._closed:
                self._start()
        return thread

    @property
    def abandoned(self):
        """Abandoned threads whose task is still running."""
        with self._lock:
            return len(self._retiring)

    def shutdown(self):
        """Start no more runs: queued items are dropped, idle threads end."""
        with self._lock:
            self._closed = True
        while True:
            try:
                self._work.get_nowait()
            except queue.Empty:
                break
        for _ in range(self._size):
            self._work.put(None)
