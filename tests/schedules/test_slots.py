"""Slot arithmetic: intervals on the epoch, cron in a time zone across daylight saving."""

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from storage_backends.tasks.schedules import slots
from storage_backends.tasks.schedules.entries import Schedule

LONDON = ZoneInfo("Europe/London")


def cron(expression, zone=LONDON):
    return Schedule(alias="default", name="s", task_path="t", cron=expression,
                    interval=None, zone=zone, catch_up="skip")


def every(seconds):
    return Schedule(alias="default", name="s", task_path="t", cron=None, interval=seconds,
                    zone=LONDON, catch_up="skip")


def at(*parts):
    """Epoch seconds of a UTC time."""
    return datetime(*parts, tzinfo=UTC).timestamp()


def utc(slot):
    return datetime.fromtimestamp(slot, UTC).strftime("%Y-%m-%d %H:%M:%S")


def firings(schedule, start, count):
    found, moment = [], start
    for _ in range(count):
        moment = slots.following(schedule, moment)
        found.append(utc(moment))
    return found


# -- intervals --------------------------------------------------------------------------------
def test_an_interval_fires_on_the_multiples_of_its_seconds_since_the_epoch():
    assert slots.latest(every(60), at(2026, 5, 1, 12, 0, 59)) == at(2026, 5, 1, 12, 0)
    assert slots.following(every(60), at(2026, 5, 1, 12, 0, 59)) == at(2026, 5, 1, 12, 1)


def test_a_slot_is_the_latest_at_its_own_second():
    assert slots.latest(every(10), at(2026, 5, 1, 12, 0, 10)) == at(2026, 5, 1, 12, 0, 10)
    assert slots.following(every(10), at(2026, 5, 1, 12, 0, 10)) == at(2026, 5, 1, 12, 0, 20)


def test_a_fraction_of_a_second_past_a_slot_is_still_that_slot():
    assert slots.latest(every(1), at(2026, 5, 1, 12, 0, 5) + 0.999) == at(2026, 5, 1, 12, 0, 5)


def test_a_daily_interval_fires_at_midnight_utc_whatever_the_zone():
    assert utc(slots.following(every(86400), at(2026, 7, 1, 12, 0))) == "2026-07-02 00:00:00"


# -- cron -------------------------------------------------------------------------------------
def test_a_cron_time_is_local_time_in_the_schedules_zone():
    assert utc(slots.latest(cron("0 9 * * *"), at(2026, 7, 1, 12, 0))) == "2026-07-01 08:00:00"
    assert utc(slots.latest(cron("0 9 * * *"), at(2026, 1, 5, 12, 0))) == "2026-01-05 09:00:00"


def test_a_cron_slot_is_the_latest_at_its_own_second():
    assert utc(slots.latest(cron("0 9 * * *"), at(2026, 1, 5, 9, 0))) == "2026-01-05 09:00:00"


def test_a_six_field_cron_counts_seconds():
    assert firings(cron("*/20 * * * * *", UTC), at(2026, 1, 5, 9, 0, 1), 3) == [
        "2026-01-05 09:00:20", "2026-01-05 09:00:40", "2026-01-05 09:01:00"]


def test_a_local_time_skipped_in_spring_runs_when_the_clock_jumps():
    # 2026-03-29: London's clocks go from 01:00 GMT to 02:00 BST; 01:30 does not exist.
    assert firings(cron("30 1 * * *"), at(2026, 3, 28, 12, 0), 2) == [
        "2026-03-29 01:00:00",  # 02:00 BST
        "2026-03-30 00:30:00",  # 01:30 BST
    ]


def test_a_local_time_repeated_in_autumn_runs_once():
    # 2026-10-25: London's clocks go from 02:00 BST back to 01:00 GMT; 01:30 happens twice.
    assert firings(cron("30 1 * * *"), at(2026, 10, 24, 12, 0), 2) == [
        "2026-10-25 00:30:00",  # 01:30 BST, the first
        "2026-10-26 01:30:00",  # 01:30 GMT, the next day
    ]


def test_the_second_pass_through_a_repeated_hour_finds_the_slot_already_past():
    # 01:45 GMT, in the repeated hour: the latest slot is still the first 01:30 (BST).
    assert utc(slots.latest(cron("30 1 * * *"), at(2026, 10, 25, 1, 45))) == \
        "2026-10-25 00:30:00"


def test_a_cron_of_every_half_hour_keeps_real_half_hours_across_both_changes():
    assert firings(cron("*/30 * * * *"), at(2026, 3, 29, 0, 0), 4) == [
        "2026-03-29 00:30:00", "2026-03-29 01:00:00", "2026-03-29 01:30:00",
        "2026-03-29 02:00:00"]
    assert firings(cron("*/30 * * * *"), at(2026, 10, 25, 0, 0), 4) == [
        "2026-10-25 00:30:00", "2026-10-25 01:00:00", "2026-10-25 01:30:00",
        "2026-10-25 02:00:00"]


def test_an_hourly_cron_fires_every_real_hour_through_the_repeated_hour():
    assert firings(cron("0 * * * *"), at(2026, 10, 24, 23, 30), 3) == [
        "2026-10-25 00:00:00",  # 01:00 BST
        "2026-10-25 01:00:00",  # 01:00 GMT
        "2026-10-25 02:00:00"]
