"""Counting the AWS calls a task backend makes, through botocore's own event hooks."""

from contextlib import contextmanager


class Calls(list):
    """Operation names in the order they were called; `of(service)` those of one service."""

    def __init__(self):
        super().__init__()
        self.services = {"sqs": [], "simpledb": []}

    def of(self, service):
        return self.services[service]


@contextmanager
def aws_calls(backend):
    """The SQS and SimpleDB operations a backend's clients call inside the block (a retry is
    not counted twice: before-call fires once per operation)."""
    calls = Calls()

    def record(event_name, **kwargs):
        _before, service, operation = event_name.split(".")
        calls.append(operation)
        calls.services[service].append(operation)

    hooks = [(backend.sqs.sqs, "before-call.sqs"),
             (backend.results.records.sdb, "before-call.simpledb")]
    for client, event in hooks:
        client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        for client, event in hooks:
            client.meta.events.unregister(event, record)
