"""How the local stack logs the requests it serves.

One plain `key=value` line per request (no terminal colours: werkzeug paints every 4xx red,
which makes the expected answers of a provisioning probe, "no such queue" or "no such
bucket", look like failures). Request lines go to loggers under `localaws.requests` at INFO,
except the answers a developer must see: server errors (5xx) and refused signatures (403),
at WARNING. `python -m localaws` shows only those unless asked for every request.
"""

import logging

#: Parent of every request logger; its level decides how chatty the stack is.
REQUESTS = "localaws.requests"


def request_logger(service):
    return logging.getLogger(f"{REQUESTS}.{service}")


def level_for(status):
    """The level of a request line: WARNING for what needs attention, INFO otherwise."""
    return logging.WARNING if status >= 500 or status == 403 else logging.INFO
