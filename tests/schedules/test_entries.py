"""The SCHEDULES option, read and checked: `manage.py check` names every invalid entry."""

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.tasks import task_backends

from storage_backends.checks import check_task_schedules
from storage_backends.tasks.schedules import schedules_of

NOOP = "tests.tasks.jobs.noop"


@pytest.fixture
def schedules(settings):
    """Set the default backend's SCHEDULES; returns the check's errors."""
    def configure(entries):
        tasks = settings.TASKS["default"]
        settings.TASKS = {"default": {**tasks, "OPTIONS": {**tasks["OPTIONS"],
                                                           "SCHEDULES": entries}}}
        return check_task_schedules(None)
    return configure


def only_message(errors):
    [error] = errors
    assert error.id == "storage_backends.E011"
    return error.msg


def test_valid_schedules_pass_the_check(schedules):
    assert schedules({
        "nightly": {"TASK": NOOP, "CRON": "17 3 * * *", "TIME_ZONE": "Europe/London",
                    "CATCH_UP": "once"},
        "often": {"TASK": NOOP, "INTERVAL": 30},
        "with-arguments": {"TASK": "tests.tasks.jobs.add", "INTERVAL": 60, "ARGS": [1],
                           "KWARGS": {"b": 2}},
    }) == []


def test_a_bad_cron_expression_is_named_with_its_schedule(schedules):
    message = only_message(schedules({"nightly": {"TASK": NOOP, "CRON": "61 3 * * *"}}))
    assert "schedule 'nightly'" in message and "CRON '61 3 * * *' is not a valid cron" in message


def test_a_cron_expression_that_never_fires_is_an_error(schedules):
    message = only_message(schedules({"never": {"TASK": NOOP, "CRON": "0 0 30 2 *"}}))
    assert "CRON '0 0 30 2 *'" in message


def test_an_unknown_task_path_is_an_error(schedules):
    message = only_message(schedules({"gone": {"TASK": "tests.tasks.jobs.nothing_here",
                                               "INTERVAL": 5}}))
    assert "unknown task 'tests.tasks.jobs.nothing_here'" in message


def test_a_path_to_something_that_is_not_a_task_is_an_error(schedules):
    message = only_message(schedules({"calls": {"TASK": "tests.tasks.jobs.record",
                                                "INTERVAL": 5}}))
    assert "'tests.tasks.jobs.record' is not a django.tasks Task" in message


def test_both_cron_and_interval_is_an_error(schedules):
    message = only_message(schedules({"both": {"TASK": NOOP, "CRON": "* * * * *",
                                               "INTERVAL": 60}}))
    assert "give exactly one of CRON and INTERVAL, not both" in message


def test_neither_cron_nor_interval_is_an_error(schedules):
    message = only_message(schedules({"neither": {"TASK": NOOP}}))
    assert message.endswith("give exactly one of CRON and INTERVAL")


@pytest.mark.parametrize("interval", [0, -5, 1.5, True, "60"])
def test_an_interval_must_be_a_positive_whole_number_of_seconds(schedules, interval):
    message = only_message(schedules({"odd": {"TASK": NOOP, "INTERVAL": interval}}))
    assert "INTERVAL must be a whole number of seconds" in message


def test_an_unknown_time_zone_is_an_error(schedules):
    message = only_message(schedules({"lost": {"TASK": NOOP, "INTERVAL": 60,
                                               "TIME_ZONE": "Europe/Atlantis"}}))
    assert "TIME_ZONE 'Europe/Atlantis' is not a time zone zoneinfo knows" in message


def test_an_unknown_catch_up_policy_is_an_error(schedules):
    message = only_message(schedules({"late": {"TASK": NOOP, "INTERVAL": 60,
                                               "CATCH_UP": "all"}}))
    assert "CATCH_UP must be one of 'skip', 'once', not 'all'" in message


def test_an_unknown_key_is_an_error(schedules):
    message = only_message(schedules({"typo": {"TASK": NOOP, "INTERVAL": 60, "ZONE": "UTC"}}))
    assert "unknown key(s) ZONE" in message


def test_arguments_that_do_not_survive_json_are_an_error(schedules):
    message = only_message(schedules({"odd": {"TASK": NOOP, "INTERVAL": 60,
                                              "ARGS": [object()]}}))
    assert "ARGS and KWARGS must survive JSON" in message


def test_a_name_that_cannot_name_a_record_is_an_error(schedules):
    message = only_message(schedules({"a/b@c": {"TASK": NOOP, "INTERVAL": 60}}))
    assert "a schedule's name must be 1 to 100 letters" in message


def test_each_invalid_entry_is_an_error_of_its_own(schedules):
    errors = schedules({"one": {"TASK": NOOP}, "fine": {"TASK": NOOP, "INTERVAL": 1},
                        "two": {"TASK": NOOP, "INTERVAL": 0}})
    assert [("'one'" in e.msg, "'two'" in e.msg) for e in errors] == [(True, False),
                                                                       (False, True)]


def test_schedules_not_a_dict_is_an_invalid_backend(settings):
    tasks = settings.TASKS["default"]
    settings.TASKS = {"default": {**tasks, "OPTIONS": {**tasks["OPTIONS"],
                                                       "SCHEDULES": [NOOP]}}}
    with pytest.raises(ImproperlyConfigured, match="SCHEDULES'] must be a dict"):
        task_backends["default"]


def test_a_read_schedule_has_the_zone_of_the_settings_by_default(schedules, settings):
    settings.TIME_ZONE = "Europe/Paris"
    schedules({"often": {"TASK": NOOP, "INTERVAL": 30}})
    [schedule] = schedules_of(task_backends["default"])
    assert (schedule.zone.key, schedule.catch_up, schedule.expression) == (
        "Europe/Paris", "skip", "every 30 s")


def test_the_sites_own_schedules_pass_the_check():
    assert check_task_schedules(None) == []
