"""The admin's task pages: results, queues and dead letters of the SQSBackends in TASKS.

None of these live in the database, so each ModelAdmin here stands on an unmanaged model
(storage_backends/models.py) only to appear on the admin index and to carry permissions,
and replaces all of the admin's URLs for it with its own views and templates
(templates/admin/storage_backends/):

- Task results (`TaskResultAdmin`): the newest results of a backend, filtered by status,
  task path and queue; one result with its times, attempts, arguments, return value and
  errors, its progress, time limit and cancel state (admin_control.py); "re-enqueue"
  (POST) sends the same task again through the backend's `enqueue`, "cancel" (POST)
  cancels a queued or running one.
- Task queues (`TaskQueueAdmin`): SQS's approximate counts for every queue and its
  dead-letter queue; and Task metrics, the figures /metrics exports (metrics/dashboard.py).
- Dead letters (`DeadLetterAdmin`): each DLQ's messages, one message, and the actions
  redrive and delete (POST), by message id (deadletters.py says how). Redrive is offered,
  and done, only for messages that can run; the others can be inspected and deleted.

Permissions are the models': `view` for every page, `change` to re-enqueue, cancel or
redrive,
`delete` to delete a dead letter; superusers have them all, and the admin site sends
anyone not staff to its login page. Every action is recorded in the admin's log.

When SQS or the result store cannot be reached, a page says so: the queue pages in place of the
counts (with the queues still listed), the others in place of their content, with status
503. An action that fails says what it did and did not do.
"""

import json
from datetime import timedelta

from botocore.exceptions import BotoCoreError, ClientError
from django import forms
from django.contrib import admin, messages
from django.contrib.admin.models import CHANGE, LogEntry
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponseNotAllowed, HttpResponseRedirect
from django.tasks import TaskResultStatus
from django.tasks.exceptions import InvalidTask, InvalidTaskBackend
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.timesince import timesince

from .. import resources
from .admin_control import cancel_view, listed_progress, run_facts
from .deadletters import LOOK_VISIBILITY, MAX_LISTED, dead_letter_queue
from .messages import BadMessage, resolve_task
from .metrics import dashboard, figures
from .queues import missing_queue
from .results import MAX_LISTED as MAX_RESULTS
from .results import parse_time
from .worker import SERVICE_ERRORS

#: Results a page lists unless asked for another number (at most results.MAX_LISTED).
DEFAULT_RESULTS = 100
#: SimpleDB's longest item name, in bytes (DynamoDB's keys may be 2,048): a longer result
#: id names nothing.
MAX_ITEM_NAME_BYTES = 1024


class CannotReenqueue(Exception):
    """Why a stored result cannot be sent again."""


def pretty_json(value):
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


def stored_time(text):
    """A stored time as a datetime; the text itself if it is not one."""
    try:
        return parse_time(text)
    except ValueError:
        return text


def worker_ids_of(attributes):
    try:
        ids = json.loads(attributes.get("worker_ids") or "[]")
    except ValueError:
        return []
    return ids if isinstance(ids, list) else []


def task_of(attributes):
    """The Task a result ran, with its queue, priority and backend; CannotReenqueue if the
    task path imports no task any more, or the backend or queue is gone."""
    try:
        task = resolve_task(attributes["task"])
        return task.using(queue_name=attributes.get("queue") or None,
                          priority=int(attributes.get("priority") or 0),
                          backend=attributes.get("backend") or None)
    except BadMessage as error:
        raise CannotReenqueue(error.reason) from error
    except KeyError as error:
        raise CannotReenqueue("the result records no task path") from error
    except (InvalidTask, InvalidTaskBackend, ValueError) as error:
        raise CannotReenqueue(str(error)) from error


def read_document(backend, attributes):
    """A result's JSON document (args, kwargs, errors, return value); ValueError if it
    cannot be read (SERVICE_ERRORS if S3, holding a large one, cannot be reached)."""
    document = backend.results.document(attributes)
    if not (isinstance(document, dict) and isinstance(document.get("args"), list)
            and isinstance(document.get("kwargs"), dict)):
        raise ValueError("the stored document has no args list and kwargs object")
    return document


class ResultFilters(forms.Form):
    """The results page's querystring."""

    backend = forms.ChoiceField(required=False)
    status = forms.ChoiceField(required=False, choices=[("", "any")] + [
        (status.value, status.label) for status in TaskResultStatus])
    task = forms.CharField(required=False, max_length=1000, label="Task path")
    queue = forms.ChoiceField(required=False)
    limit = forms.IntegerField(required=False, min_value=1, max_value=MAX_RESULTS,
                               initial=DEFAULT_RESULTS)

    def __init__(self, data, backends):
        super().__init__(data)
        self.fields["backend"].choices = [(b.alias, b.alias) for b in backends]
        queues = sorted({name for b in backends for name in b.queue_names})
        self.fields["queue"].choices = [("", "any")] + [(name, name) for name in queues]


class _TaskPages(admin.ModelAdmin):
    """What the three task pages share: no database, their own URLs, a render helper."""

    def has_add_permission(self, request):
        return False

    def _name(self, view):
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def _url(self, view, *args, query=None):
        url = reverse(f"admin:{self._name(view)}", args=args, current_app=self.admin_site.name)
        return f"{url}?{urlencode(query)}" if query else url

    def _render(self, request, template, title, context, status=200):
        request.current_app = self.admin_site.name
        return TemplateResponse(request, f"admin/storage_backends/{template}", {
            **self.admin_site.each_context(request), "opts": self.opts,
            "app_label": self.opts.app_label, "title": title, **context,
        }, status=status)

    def _unavailable(self, request, title, error, back):
        return self._render(request, "unavailable.html", title, {
            "error": f"{type(error).__name__}: {error}", "back": back}, status=503)

    @staticmethod
    def _require(allowed):
        if not allowed:
            raise PermissionDenied

    @staticmethod
    def _post_only(request):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        return None

    def _log(self, request, keys, message, flag=CHANGE):
        LogEntry.objects.log_actions(user_id=request.user.pk,
                                     queryset=[self.model(pk=key) for key in keys],
                                     action_flag=flag, change_message=message)


# -- results --------------------------------------------------------------------------------
def result_backends():
    """The SQSBackends in TASKS, one per result store (backends may share one)."""
    found = {}
    for backend in resources.task_backends():
        found.setdefault(backend.results.location, backend)
    return list(found.values())


class TaskResultAdmin(_TaskPages):
    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=self._name("changelist")),
            path("<str:object_id>/", wrap(self.change_view), name=self._name("change")),
            path("<str:object_id>/enqueue/", wrap(self.enqueue_view),
                 name=self._name("enqueue")),
            path("<str:object_id>/cancel/", wrap(self.cancel_view),
                 name=self._name("cancel")),
        ]

    def changelist_view(self, request, extra_context=None):
        """The newest results (newest enqueued first), filtered by the querystring."""
        self._require(self.has_view_permission(request))
        title = "Task results"
        backends = result_backends()
        query = request.GET.copy()
        query.setdefault("limit", str(DEFAULT_RESULTS))
        filters = ResultFilters(query, backends)
        context = {"filters": filters, "rows": [], "several_backends": len(backends) > 1,
                   "backends": backends}
        if not backends or not filters.is_valid():
            return self._render(request, "results/list.html", title, context)
        data = filters.cleaned_data
        backend = next((b for b in backends if b.alias == data["backend"]), backends[0])
        limit = data["limit"] or DEFAULT_RESULTS
        try:
            found = backend.results.listing(status=data["status"] or None,
                                            task=data["task"] or None,
                                            queue=data["queue"] or None, limit=limit)
        except SERVICE_ERRORS as error:
            return self._unavailable(request, title, error, None)
        query = {"backend": backend.alias} if len(backends) > 1 else None
        now = timezone.now()
        retention = timesince(now - timedelta(seconds=backend.config.result_retention), now)
        context.update(backend=backend, limit=limit, retention=retention,
                       complete=found.complete, scanned=found.scanned, rows=[{
            "id": result_id, "url": self._url("change", result_id, query=query),
            "task": attributes.get("task", ""), "queue": attributes.get("queue", ""),
            "priority": attributes.get("priority", ""), "status": attributes.get("status", ""),
            "cancelled": bool(attributes.get("cancelled")),
            "progress": listed_progress(attributes),
            "enqueued_at": stored_time(attributes.get("enqueued_at")),
            "finished_at": stored_time(attributes.get("finished_at")),
            "attempts": len(worker_ids_of(attributes)),
        } for result_id, attributes in found])
        return self._render(request, "results/list.html", title, context)

    def _find(self, request, result_id):
        """(backend, attributes) of a stored result; Http404 if none has it."""
        if len(result_id.encode()) > MAX_ITEM_NAME_BYTES:
            raise Http404("No such task result.")
        alias = request.GET.get("backend")
        for backend in result_backends():
            if alias and backend.alias != alias:
                continue
            attributes = backend.results.record(result_id)
            if attributes:
                return backend, attributes
        raise Http404("No such task result.")

    def change_view(self, request, object_id, form_url="", extra_context=None):
        """One result: every stored field, and the re-enqueue button if it can be sent."""
        self._require(self.has_view_permission(request))
        title = f"Task result {object_id}"
        try:
            backend, attributes = self._find(request, object_id)
            try:
                document, problem = read_document(backend, attributes), ""
            except ValueError as error:
                document, problem = None, str(error)
        except SERVICE_ERRORS as error:
            return self._unavailable(request, title, error, self._url("changelist"))
        try:
            task_of(attributes)
            cannot_reenqueue = ""
        except CannotReenqueue as error:
            cannot_reenqueue = str(error)
        succeeded = attributes.get("status") == TaskResultStatus.SUCCESSFUL
        context = {
            "result_id": object_id, "backend": backend, "attributes": attributes,
            "times": [(label, stored_time(attributes.get(name))) for label, name in (
                ("Enqueued", "enqueued_at"), ("Started", "started_at"),
                ("Last attempted", "last_attempted_at"), ("Finished", "finished_at"))],
            "worker_ids": list(enumerate(worker_ids_of(attributes), start=1)),
            "base": attributes.get("base") or "0",
            "document_problem": problem,
            "args": pretty_json(document["args"]) if document else None,
            "kwargs": pretty_json(document["kwargs"]) if document else None,
            "return_value": (pretty_json(document.get("return_value"))
                             if document and succeeded else None),
            "errors": (document.get("errors") or []) if document else [],
            "stored": sorted(backend.results.plain(attributes).items()),
            "can_reenqueue": self.has_change_permission(request) and not problem,
            "cannot_reenqueue": cannot_reenqueue,
            "enqueue_url": self._url("enqueue", object_id, query={"backend": backend.alias}),
            "cancel_url": self._url("cancel", object_id, query={"backend": backend.alias}),
            **run_facts(backend, object_id, attributes, self.has_change_permission(request)),
        }
        return self._render(request, "results/detail.html", title, context)

    def cancel_view(self, request, object_id):
        """Cancel the result's task: queued, it will not run; running, it is asked to stop."""
        refused = self._post_only(request)
        if refused:
            return refused
        self._require(self.has_change_permission(request))
        back = self._url("change", object_id, query=request.GET or None)
        try:
            backend, _attributes = self._find(request, object_id)
        except SERVICE_ERRORS as error:
            messages.error(request, f"Not cancelled: {type(error).__name__}: {error}")
            return HttpResponseRedirect(back)
        return cancel_view(self, request, backend, object_id, back)

    def enqueue_view(self, request, object_id):
        """Send the result's task again (same args, kwargs, queue, priority): a new result."""
        refused = self._post_only(request)
        if refused:
            return refused
        self._require(self.has_change_permission(request))
        back = HttpResponseRedirect(self._url("change", object_id, query=request.GET or None))
        try:
            backend, attributes = self._find(request, object_id)
            task = task_of(attributes)
            document = read_document(backend, attributes)
            new = task.enqueue(*document["args"], **document["kwargs"])
        except (CannotReenqueue, ValueError, TypeError, InvalidTask) as error:
            messages.error(request, f"Cannot re-enqueue: {error}")
            return back
        except SERVICE_ERRORS as error:
            messages.error(request, f"Not re-enqueued: {type(error).__name__}: {error}")
            return back
        self._log(request, [object_id], f"Re-enqueued as {new.id}")
        url = self._url("change", new.id, query={"backend": new.backend})
        messages.success(request, format_html(
            'Re-enqueued {} as a new task: <a href="{}">{}</a>.', task.module_path, url, new.id))
        return back


# -- queues -----------------------------------------------------------------------------------
def count_queues(queues, dead_letters_only=False):
    """({queue, counts, dead_letter_counts, problems} per queue, why SQS is unreachable or "").

    Counts are SQS's approximate numbers; a missing queue is a problem of its own row,
    and the first sign that SQS cannot be reached stops asking.
    """
    rows, unreachable = [], ""
    for queue in queues:
        row = {"queue": queue, "counts": None, "dead_letter_counts": None, "problems": []}
        names = [("dead_letter_counts", queue.dead_letter_name)]
        if not dead_letters_only:
            names.insert(0, ("counts", queue.name))
        for key, name in names:
            if unreachable:
                break
            try:
                row[key] = queue.backend.sqs.counts(name)
            except ClientError as error:
                row["problems"].append(
                    f"{name} does not exist: run manage.py provision_aws"
                    if missing_queue(error) else f"{name}: {error}")
            except BotoCoreError as error:
                endpoint = queue.backend.sqs.sqs.meta.endpoint_url
                unreachable = (f"SQS at {endpoint} cannot be reached, so there are no "
                               f"counts: {type(error).__name__}: {error}")
        rows.append(row)
    return rows, unreachable


class TaskQueueAdmin(_TaskPages):
    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [path("", wrap(self.changelist_view), name=self._name("changelist")),
                path("metrics/", wrap(self.metrics_view), name=self._name("metrics"))]

    def changelist_view(self, request, extra_context=None):
        self._require(self.has_view_permission(request))
        rows, unreachable = count_queues(resources.queues())
        for row in rows:
            row["dead_letter_url"] = reverse(
                f"admin:{self.opts.app_label}_deadletter_queue",
                args=[row["queue"].dead_letter_name], current_app=self.admin_site.name)
        return self._render(request, "queues/list.html", "Task queues",
                            {"rows": rows, "unreachable": unreachable,
                             "metrics_url": self._url("metrics")})

    def metrics_view(self, request):
        """Queues, tasks and workers: the figures /metrics exports (metrics/dashboard.py)."""
        self._require(self.has_view_permission(request))
        return self._render(request, "metrics.html", "Task metrics",
                            dashboard.context(figures.gather()))


# -- dead letters -------------------------------------------------------------------------------
class DeadLetterAdmin(_TaskPages):
    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("", wrap(self.changelist_view), name=self._name("changelist")),
            path("<str:queue_name>/", wrap(self.queue_view), name=self._name("queue")),
            path("<str:queue_name>/<str:message_id>/", wrap(self.message_view),
                 name=self._name("message")),
        ]

    def changelist_view(self, request, extra_context=None):
        """Every dead-letter queue, with how many messages it holds."""
        self._require(self.has_view_permission(request))
        rows, unreachable = count_queues(resources.queues(), dead_letters_only=True)
        for row in rows:
            row["url"] = self._url("queue", row["queue"].dead_letter_name)
        return self._render(request, "deadletters/index.html", "Dead letters",
                            {"rows": rows, "unreachable": unreachable})

    def _result_url(self, letter):
        if not letter.result_id:
            return None
        return reverse(f"admin:{self.opts.app_label}_taskresultrecord_change",
                       args=[letter.result_id], current_app=self.admin_site.name)

    def _queue(self, queue_name):
        queue = dead_letter_queue(queue_name)
        if queue is None:
            raise Http404("No such dead-letter queue.")
        return queue

    def queue_view(self, request, queue_name):
        """GET: up to MAX_LISTED messages of one DLQ. POST: redrive or delete some."""
        self._require(self.has_view_permission(request))
        queue = self._queue(queue_name)
        if request.method == "POST":
            return self._act(request, queue)
        title = f"Dead letters in {queue.name}"
        try:
            counts = queue.counts()
            letters = queue.look()
        except SERVICE_ERRORS as error:
            return self._unavailable(request, title, error, self._url("changelist"))
        return self._render(request, "deadletters/queue.html", title, {
            "queue": queue, "counts": counts, "limit": MAX_LISTED,
            "look_visibility": LOOK_VISIBILITY,
            "letters": [(letter, self._url("message", queue.name, letter.message_id),
                         self._result_url(letter)) for letter in letters],
            # Redrive is offered only for messages that can run (see DeadLetterQueue.redrive).
            "can_redrive": self.has_change_permission(request)
            and any(letter.can_run for letter in letters),
            "can_delete": self.has_delete_permission(request),
        })

    def _act(self, request, queue):
        action = request.POST.get("action")
        if action == "redrive":
            self._require(self.has_change_permission(request))
            run, done, verb = queue.redrive, "Redrove {0} to {1} source queue{2}.", "redriven"
        elif action == "delete":
            self._require(self.has_delete_permission(request))
            run, done, verb = queue.delete, "Deleted {0}.", "deleted"
        else:
            messages.error(request, "Choose redrive or delete.")
            return HttpResponseRedirect(self._url("queue", queue.name))
        selected = list(dict.fromkeys(request.POST.getlist("message")))
        if not selected:
            messages.warning(request, "No messages were selected, so none were " + verb + ".")
            return HttpResponseRedirect(self._url("queue", queue.name))
        try:
            outcome = run(selected)
        except SERVICE_ERRORS as error:
            messages.error(request, f"None {verb}: {type(error).__name__}: {error}")
            return HttpResponseRedirect(self._url("queue", queue.name))
        if outcome.done:
            one = len(outcome.done) == 1
            messages.success(request, done.format(
                f"{len(outcome.done)} message{'' if one else 's'}",
                "its" if one else "their", "" if one else "s"))
            if action == "redrive":
                self._log(request, outcome.done, f"Redriven from {queue.name}")
            else:
                self.log_deletions(request, [self.model(pk=key) for key in outcome.done])
        for message_id, reason in outcome.problems.items():
            messages.error(request, f"{message_id} not {verb}: {reason}")
        return HttpResponseRedirect(self._url("queue", queue.name))

    def message_view(self, request, queue_name, message_id):
        """One message: where from, why, its body pretty-printed."""
        self._require(self.has_view_permission(request))
        queue = self._queue(queue_name)
        title = f"Dead letter {message_id}"
        try:
            letter = queue.get(message_id)
        except SERVICE_ERRORS as error:
            return self._unavailable(request, title, error, self._url("queue", queue.name))
        if letter is None:
            raise Http404("No such message in this dead-letter queue.")
        return self._render(request, "deadletters/message.html", title, {
            "queue": queue, "letter": letter, "queue_url": self._url("queue", queue.name),
            "result_url": self._result_url(letter),
            "payload": pretty_json({"args": letter.payload.args,
                                    "kwargs": letter.payload.kwargs}) if letter.payload else None,
            "can_redrive": self.has_change_permission(request) and letter.can_run,
            "can_delete": self.has_delete_permission(request),
        })
