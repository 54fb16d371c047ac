"""One time budget for all the AWS calls a web request makes.

A page that needs SimpleDB, S3 or SQS must give up after a few seconds, not after botocore
has made every attempt its retry mode allows, each waiting up to a full read timeout
(3 × 10 s). `AWSBudgetMiddleware` gives each request a deadline, kept in a context variable;
two hooks that `storage_backends.aws` registers on every client enforce it, per attempt:

- `before-send` (each attempt, retries included): once the deadline has passed the attempt
  is refused with `BudgetExhausted`; otherwise the attempt's socket reads time out at the
  deadline, through the per-request `read_timeout` that botocore's HTTP session reads from
  the request context (a urllib3 read timeout bounds each wait for bytes, which is how a
  slow service holds a request). Connecting to a new endpoint keeps AWS_CONNECT_TIMEOUT.
- `needs-retry`: no retry is begun once the deadline has passed, so the caller gets the
  attempt's own error at once, and the client's shared retry quota is not spent on it.

So a request ends within its budget plus at most: one connection set-up to a new endpoint
(AWS_CONNECT_TIMEOUT; pooled connections are reused), one retry backoff begun just before
the deadline (50 ms-scale; throttling backs off longer), and the time to send a request body
(an upload through the node); a response arriving byte by byte is bounded per wait, not in
total. Threads a request starts do not inherit its budget (contextvars are per thread).

`BudgetExhausted` is a botocore read timeout, so it ends where every unreachable AWS service
already ends: the SimpleDB client's `Unavailable`, the site's 503 page.

Outside a budget (the task worker, management commands, a request's streamed body after
the view returned) nothing changes: botocore's retry mode and AWS_READ_TIMEOUT apply.
"""

import time
from contextlib import contextmanager
from contextvars import ContextVar

from botocore.exceptions import ReadTimeoutError
from django.conf import settings

#: time.monotonic() by which the current request's AWS calls must be done, or None.
_deadline = ContextVar("stratus_aws_deadline", default=None)


class BudgetExhausted(ReadTimeoutError):
    """The request's time for AWS calls ran out before this attempt could be made."""

    fmt = 'The request\'s AWS time budget ran out before a call to "{endpoint_url}"'


@contextmanager
def aws_budget(seconds):
    """AWS calls made inside the block share `seconds` of wall time, at most.

    An inner budget never extends an outer one.
    """
    with _deadline_within(time.monotonic() + seconds, min):
        yield


#: The slowest S3 transfer rate a node is assumed to reach (bytes per second). A transfer
#: of n bytes gets n / this many seconds on top of the request's budget: 100 MB, 20 s.
TRANSFER_BYTES_PER_SECOND = 5 * 1024 * 1024


@contextmanager
def aws_budget_for_transfer(nbytes):
    """AWS calls inside the block may move `nbytes` to or from S3: the budget becomes the
    request's own (STRATUS_AWS_REQUEST_BUDGET) plus nbytes / TRANSFER_BYTES_PER_SECOND,
    counted from now, and never less than what is left of the current one.

    For an upload through the node, whose parts are many calls of honest work: without it a
    large file would run out of the request's few seconds part-way, leaving a 503 and an
    incomplete multipart upload.
    """
    seconds = settings.STRATUS_AWS_REQUEST_BUDGET + nbytes / TRANSFER_BYTES_PER_SECOND
    with _deadline_within(time.monotonic() + seconds, max):
        yield


@contextmanager
def _deadline_within(deadline, combine):
    """`deadline` for the block, or `combine(outer, deadline)` inside an outer budget."""
    outer = _deadline.get()
    token = _deadline.set(deadline if outer is None else combine(outer, deadline))
    try:
        yield
    finally:
        _deadline.reset(token)


def remaining():
    """Seconds left in the current budget (negative once spent), or None without one."""
    deadline = _deadline.get()
    return None if deadline is None else deadline - time.monotonic()


def _before_send(request, **kwargs):
    left = remaining()
    if left is None:
        return None
    if left <= 0:
        raise BudgetExhausted(endpoint_url=request.url)
    config = request.context.get("client_config")
    configured = config.read_timeout if config is not None else left
    request.context["read_timeout"] = min(configured, left)
    return None


def _needs_retry(**kwargs):
    left = remaining()
    if left is not None and left <= 0:
        return False  # a non-None answer, first in line: botocore makes no retry
    return None  # the retry mode decides


def enforce(client):
    """Register the budget's hooks on a new boto3 client (`storage_backends.aws` does)."""
    events = client.meta.events
    service = client.meta.service_model.service_id.hyphenize()
    events.register("before-send", _before_send, unique_id="stratus-aws-budget-send")
    # The retry handler listens on the service's own event name, which botocore calls
    # before the generic one: be first there, so that "no retry" wins.
    events.register_first(f"needs-retry.{service}", _needs_retry,
                          unique_id="stratus-aws-budget-retry")


class AWSBudgetMiddleware:
    """Gives every request STRATUS_AWS_REQUEST_BUDGET seconds for all its AWS calls.

    Place it above the session middleware, so the session's load and save count too.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.seconds = settings.STRATUS_AWS_REQUEST_BUDGET

    def __call__(self, request):
        with aws_budget(self.seconds):
            return self.get_response(request)
