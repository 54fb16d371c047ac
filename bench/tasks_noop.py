"""The task every Django system in bench/tasks.py runs: nothing, so the figures are overhead.

A module-level `@task` function, found by the workers through PYTHONPATH=bench. It uses the
"default" backend of whichever settings the process runs with: Stratus's SQSBackend under
`project.settings`, django-tasks-sqs's under `tasks_dts_settings`.
"""

from django.tasks import task


@task
def noop():
    return None
