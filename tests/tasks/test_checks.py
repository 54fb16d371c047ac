"""System checks of the SQS task backend's configuration."""

from storage_backends.checks import check_sqs_task_backends


def test_a_valid_sqs_backend_passes_the_check():
    assert check_sqs_task_backends(None) == []


def test_an_unknown_option_is_error_e004_naming_it(settings):
    settings.TASKS = {"default": {**settings.TASKS["default"],
                                  "OPTIONS": {"VISIBILITY": 30}}}
    [error] = check_sqs_task_backends(None)
    assert error.id == "storage_backends.E004"
    assert "unknown SQSBackend OPTIONS: VISIBILITY" in error.msg


def test_max_attempts_not_below_max_receive_count_is_error_e004(settings):
    settings.TASKS = {"default": {**settings.TASKS["default"],
                                  "OPTIONS": {"MAX_ATTEMPTS": 5, "MAX_RECEIVE_COUNT": 5}}}
    [error] = check_sqs_task_backends(None)
    assert "MAX_ATTEMPTS (5) must be below MAX_RECEIVE_COUNT (5)" in error.msg


def test_a_queue_name_sqs_cannot_take_is_error_e004(settings):
    settings.TASKS = {"default": {**settings.TASKS["default"], "QUEUES": ["bad name"]}}
    [error] = check_sqs_task_backends(None)
    assert "SQS queue name 'stratus-bad name-high'" in error.msg
