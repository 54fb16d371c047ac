"""Background tasks on Amazon SQS for Django's Tasks framework (docs/tasks.md)."""

from .backend import SQSBackend, SQSTask

__all__ = ["SQSBackend", "SQSTask"]
