"""What the task management commands share: finding the SQSBackend aliases."""

from django.conf import settings
from django.core.management.base import CommandError
from django.tasks import task_backends

from .backend import SQSBackend


def sqs_aliases():
    """TASKS aliases whose backend is SQSBackend (or a subclass)."""
    return [alias for alias in settings.TASKS
            if isinstance(task_backends[alias], SQSBackend)]


def sqs_backend(alias):
    """The SQSBackend of a TASKS alias; CommandError if it is not one."""
    if alias not in settings.TASKS:
        raise CommandError(f"no TASKS backend {alias!r} (there are: {', '.join(settings.TASKS)})")
    backend = task_backends[alias]
    if not isinstance(backend, SQSBackend):
        raise CommandError(f"TASKS[{alias!r}] is {type(backend).__name__}, not an SQSBackend")
    return backend
