"""System checks for storage_backends' configuration (`manage.py check`)."""

from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks

LOOPBACK = {"localhost", "127.0.0.1", "::1", "0.0.0.0"}


@checks.register(checks.Tags.compatibility, deploy=True)
def check_no_local_endpoint_in_production(app_configs, **kwargs):
    """A production deployment talking to a local emulator would lose everything it wrote."""
    if not getattr(settings, "PRODUCTION", False):
        return []
    errors = []
    for service, url in getattr(settings, "AWS_ENDPOINT_URLS", {}).items():
        if url and urlsplit(url).hostname in LOOPBACK:
            errors.append(checks.Error(
                f"The {service} endpoint {url} is on this machine, in production.",
                hint="Unset the AWS_ENDPOINT_URL_* variables so AWS's own endpoints apply.",
                id="storage_backends.E001",
            ))
    return errors


@checks.register(checks.Tags.caches)
def check_simpledb_caches(app_configs, **kwargs):
    """Each SimpleDBCache's LOCATION and OPTIONS, validated as the backend does (no calls)."""
    from django.core.cache import caches

    aliases = [alias for alias, config in settings.CACHES.items()
               if config.get("BACKEND", "").endswith("simpledb.cache.SimpleDBCache")]
    return _unusable(caches, aliases, "CACHES[{alias!r}] is not a valid SimpleDBCache",
                     "See docs/sessions-and-cache.md for the options.",
                     "storage_backends.E002")


@checks.register(checks.Tags.caches)
def check_dynamodb_caches(app_configs, **kwargs):
    """Each DynamoDBCache's LOCATION and OPTIONS, validated as the backend does (no calls)."""
    from django.core.cache import caches

    aliases = [alias for alias, config in settings.CACHES.items()
               if config.get("BACKEND", "").endswith("dynamodb.cache.DynamoDBCache")]
    return _unusable(caches, aliases, "CACHES[{alias!r}] is not a valid DynamoDBCache",
                     "See docs/dynamodb.md for the options.", "storage_backends.E010")


def _unusable(handler, aliases, message, hint, check_id):
    """An error for each alias whose backend refuses its configuration (no calls made)."""
    from django.core.exceptions import ImproperlyConfigured

    errors = []
    for alias in aliases:
        try:
            handler.create_connection(alias)
        except ImproperlyConfigured as error:
            errors.append(checks.Error(f"{message.format(alias=alias)}: {error}", hint=hint,
                                       id=check_id))
    return errors


@checks.register(checks.Tags.compatibility)
def check_simpledb_sessions(app_configs, **kwargs):
    """The session domain, when sessions live in SimpleDB."""
    if settings.SESSION_ENGINE != "storage_backends.simpledb.sessions":
        return []
    from django.core.exceptions import ImproperlyConfigured

    from .simpledb.sessions import sessions_domain

    try:
        sessions_domain()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="storage_backends.E003",
                             hint="Set SIMPLEDB_SESSIONS_DOMAIN to the sessions domain.")]
    return []


@checks.register(checks.Tags.compatibility)
def check_dynamodb_sessions(app_configs, **kwargs):
    """The session table, when sessions live in DynamoDB."""
    if settings.SESSION_ENGINE != "storage_backends.dynamodb.sessions":
        return []
    from django.core.exceptions import ImproperlyConfigured

    from .dynamodb.sessions import sessions_table

    try:
        sessions_table()
    except ImproperlyConfigured as error:
        return [checks.Error(str(error), id="storage_backends.E006",
                             hint="Set DYNAMODB_SESSIONS_TABLE to the sessions table.")]
    return []


def _sqs_task_aliases():
    return [alias for alias, config in settings.TASKS.items()
            if config.get("BACKEND", "").endswith("tasks.SQSBackend")]


@checks.register(checks.Tags.compatibility)
def check_sqs_task_backends(app_configs, **kwargs):
    """Each SQSBackend's QUEUES and OPTIONS, validated as the backend does (no calls)."""
    from django.tasks import task_backends

    return _unusable(task_backends, _sqs_task_aliases(),
                     "TASKS[{alias!r}] is not a valid SQSBackend",
                     "See docs/tasks.md, 'Options'.",
                     "storage_backends.E004")


@checks.register(checks.Tags.compatibility)
def check_task_schedules(app_configs, **kwargs):
    """Each SQSBackend's SCHEDULES (docs/tasks.md, "Periodic tasks"): one error per invalid
    entry (a bad cron expression or time zone, an unknown task, both or neither of CRON and
    INTERVAL, an unknown catch-up policy, ...). Needs the task modules: no AWS calls."""
    from django.core.exceptions import ImproperlyConfigured
    from django.tasks import task_backends
    from django.tasks.exceptions import InvalidTaskBackend

    from .tasks.schedules import entries

    errors = []
    for alias in _sqs_task_aliases():
        try:
            backend = task_backends[alias]
        except (ImproperlyConfigured, InvalidTaskBackend):
            continue  # storage_backends.E004 says why
        _schedules, problems = entries.read(alias, backend.config.schedules)
        errors += [checks.Error(problem, id="storage_backends.E011",
                                hint="See docs/tasks.md, 'Periodic tasks'.")
                   for problem in problems]
    return errors
