"""Background tasks on Amazon SQS for Django's Tasks framework (README, "Background tasks")."""

from .backend import SQSBackend, SQSTask

__all__ = ["SQSBackend", "SQSTask"]
