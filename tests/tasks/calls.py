"""Counting the AWS calls a task backend makes, through botocore's own event hooks."""

from contextlib import contextmanager


class Calls(list):
    """Operation names in the order they were called; `of("sqs")` those of SQS, `of("results")`
    those of the result store (SimpleDB or DynamoDB)."""

    def __init__(self):
        super().__init__()
        self.services = {"sqs": [], "results": []}

    def of(self, service):
        return self.services[service]


@contextmanager
def aws_calls(backend):
    """The SQS and result store operations a backend's clients call inside the block (a
    retry is not counted twice: before-call fires once per operation)."""
    calls = Calls()

    def record(event_name, **kwargs):
        _before, service, operation = event_name.split(".")
        calls.append(operation)
        calls.services["sqs" if service == "sqs" else "results"].append(operation)

    store = backend.results.client
    hooks = [(backend.sqs.sqs, "before-call.sqs"),
             (store, f"before-call.{store.meta.service_model.service_id.hyphenize()}")]
    for client, event in hooks:
        client.meta.events.register(event, record)
    try:
        yield calls
    finally:
        for client, event in hooks:
            client.meta.events.unregister(event, record)
