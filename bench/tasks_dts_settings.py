"""Settings for django-tasks-sqs in bench/tasks.py: its backend, no database, our no-op task.

Its app has a `sqs_worker` command as Stratus's does, so it runs with these settings alone
(`python -m django sqs_worker --settings tasks_dts_settings`, PYTHONPATH=bench). The
benchmark sets the endpoint (its proxy) and the queue prefix through the environment.
"""

import os

SECRET_KEY = "bench-only"
USE_TZ = True
INSTALLED_APPS = ["django_tasks_sqs"]
DATABASES = {}
LOGGING_CONFIG = None
TASKS = {
    "default": {
        "BACKEND": "django_tasks_sqs.SQSBackend",
        "QUEUES": ["default"],
        "OPTIONS": {
            "queue_name_prefix": os.environ["BENCH_QUEUE_PREFIX"],
            "endpoint_url": os.environ["AWS_ENDPOINT_URL_SQS"],
            "region_name": "us-east-1",
        },
    },
}
