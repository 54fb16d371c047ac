"""The request id every log line carries, set per request by `RequestIdMiddleware`."""

import contextvars
import logging

request_id = contextvars.ContextVar("request_id", default="-")


class RequestIdFilter(logging.Filter):
    """Adds `record.request_id` (the current request's id, or "-" outside requests)."""

    def filter(self, record):
        record.request_id = request_id.get()
        return True
