"""The one place that makes boto3 clients.

Every client comes from `client(service)`: endpoint from settings.AWS_ENDPOINT_URLS (botocore's
per-service variables: AWS_ENDPOINT_URL_S3, _SQS, _SIMPLEDB, _AUTOSCALING), region, botocore's
retry mode ("standard" or "adaptive"), connect/read timeouts and a connection pool sized for the
gunicorn threads. A client is made once per process, service and set of overrides, and
shared by all threads (boto3 clients are thread-safe). All are made from one session per
process, under a lock since sessions are not thread-safe: the session keeps the service
models it has loaded, so a second client costs ~2 ms instead of ~40 (a worker makes
several at start). After a fork the child makes its own session and clients, since a
connection pool must not be shared across processes. Every client honours the current
request's AWS time budget (`storage_backends.budget`); outside a request its own timeouts
and retries apply.
"""

import os
import threading

import boto3
from botocore.config import Config
from django.conf import settings

from . import budget

#: Per-service settings every client of that service needs.
SERVICE_CONFIG = {
    # S3 refuses Signature Version 2 on buckets made since 2020; botocore would still use
    # it for presigned URLs in some regions.
    "s3": {"signature_version": "s3v4"},
}

_lock = threading.Lock()
_clients = {}
_session = None
_pid = None


def config(service=None, **overrides):
    """The botocore Config Stratus clients of `service` use; `overrides` for special callers."""
    options = {
        "region_name": settings.AWS_REGION,
        # total_max_attempts counts the first try too, as the AWS_MAX_ATTEMPTS variable does.
        "retries": {"mode": settings.AWS_RETRY_MODE,
                    "total_max_attempts": settings.AWS_MAX_ATTEMPTS},
        "connect_timeout": settings.AWS_CONNECT_TIMEOUT,
        "read_timeout": settings.AWS_READ_TIMEOUT,
        "max_pool_connections": settings.AWS_MAX_POOL_CONNECTIONS,
    }
    options.update(SERVICE_CONFIG.get(service, {}))
    options.update(overrides)
    return Config(**options)


def endpoint_url(service):
    """The endpoint for a service ("s3", "sqs", "sdb", "autoscaling"), or None for AWS's own."""
    return settings.AWS_ENDPOINT_URLS.get(service) or None


def credentials():
    """Explicit keys from settings, or {} to let botocore's chain (instance role) decide."""
    if settings.AWS_ACCESS_KEY_ID and settings.AWS_SECRET_ACCESS_KEY:
        return {"aws_access_key_id": settings.AWS_ACCESS_KEY_ID,
                "aws_secret_access_key": settings.AWS_SECRET_ACCESS_KEY}
    return {}


def _make_client(service, config_overrides):
    """A new client; call under _lock (it uses the process's session)."""
    global _session
    if _session is None:
        _session = boto3.session.Session()
    return adopt(_session.client(service, endpoint_url=endpoint_url(service),
                                config=config(service, **config_overrides), **credentials()))


def adopt(client):
    """Give `client` what every Stratus client has beyond its Config: the hooks that hold
    it to the current request's AWS budget. For clients made here, and for the one each
    S3 storage makes itself (django-storages builds its own resource); calling it again on
    the same client changes nothing."""
    budget.enforce(client)
    return client


def client(service, **config_overrides):
    """The process's shared client for `service`.

    Callers that need other botocore settings (health checks: short timeouts, no retries)
    pass them as `config_overrides` and share one client per distinct set of them.
    """
    global _pid, _session
    key = (service, repr(sorted(config_overrides.items())))
    with _lock:
        if _pid != os.getpid():
            _clients.clear()
            _session = None
            _pid = os.getpid()
        if key not in _clients:
            _clients[key] = _make_client(service, config_overrides)
        return _clients[key]


def reset():
    """Forget every client (tests that change settings)."""
    global _session
    with _lock:
        _clients.clear()
        _session = None
