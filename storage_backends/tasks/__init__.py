"""Background tasks on Amazon SQS for Django's Tasks framework (docs/tasks.md).

What a task may call while it runs (`report_progress`, `should_stop`, `raise_if_stopped`,
`stop_reason`) is in `context`; `cancel` in `cancelling`.
"""

from .backend import SQSBackend, SQSTask
from .cancelling import Cancellation, cancel
from .context import (
    Cancelled,
    Progress,
    SQSTaskContext,
    Stopped,
    TimeLimitExceeded,
    raise_if_stopped,
    report_progress,
    should_stop,
    stop_reason,
)
from .results import SQSTaskResult

__all__ = ["Cancellation", "Cancelled", "Progress", "SQSBackend", "SQSTask", "SQSTaskContext",
           "SQSTaskResult", "Stopped", "TimeLimitExceeded", "cancel", "raise_if_stopped",
           "report_progress", "should_stop", "stop_reason"]
