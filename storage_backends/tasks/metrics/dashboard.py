"""The admin's task metrics page: the figures `/metrics` exports (`figures.gather()`),
arranged per queue, per task and per worker, with durations made readable."""

from .figures import quantile

#: Quantiles the page shows of run and wait times.
SHOWN_QUANTILES = (("p50", 0.5), ("p95", 0.95))


def duration(seconds):
    """Seconds as a short readable duration ("—" for none): 12 ms, 1.4 s, 3 min 5 s, 2 h 3 min."""
    if seconds is None:
        return "—"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _times(counts, total):
    """(mean, p50, p95) of a histogram, readable."""
    runs = sum(counts)
    mean = total / runs if runs else None
    return [duration(mean)] + [duration(quantile(q, counts)) for _name, q in SHOWN_QUANTILES]


def context(figures):
    """The page's context from a `figures.Figures`."""
    queues = [{
        "name": queue.name, "backend": queue.backend, "counts": queue.counts,
        "dead_letter_name": queue.dead_letter_name, "dead_letters": queue.dead_letters,
        "workers": queue.workers, "longest_wait": duration(queue.longest_wait),
        "problems": queue.problems,
    } for queue in figures.queues]
    tasks = []
    for found in figures.tasks():
        finished = found.succeeded + found.failed
        tasks.append({
            "queue": found.queue, "task": found.task, "succeeded": found.succeeded,
            "retried": found.retried, "failed": found.failed,
            "failure_rate": (f"{100 * found.failed / finished:.1f} %" if finished else "—"),
            "run": _times(found.run, found.run_sum), "wait": _times(found.wait, found.wait_sum),
        })
    workers = [{
        "id": report.worker, "state": report.state(figures.now),
        "last_report": duration(max(0.0, figures.now - report.at)),
        "up_for": duration(max(0.0, report.at - report.started)),
        "running": report.running, "concurrency": report.concurrency,
        "processed": report.processed, "queues": ", ".join(report.queues),
    } for report in figures.reports]
    return {
        "queues": queues, "tasks": tasks, "workers": workers,
        "running_workers": sum(1 for worker in workers if worker["state"] == "running"),
        "unreachable": figures.sqs_unreachable, "store_problems": figures.store_problems,
        "unreadable": figures.unreadable, "complete": figures.complete,
        "quantiles": [name for name, _q in SHOWN_QUANTILES],
    }
