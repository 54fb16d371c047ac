"""Slot arithmetic: when a schedule fires, as whole epoch seconds (UTC).

A *slot* is one firing time of a schedule. Every scheduler computes the same slots from the
settings and the clock alone, so that the slot can name the record that decides who
enqueues it.

- **Intervals** fire at the multiples of INTERVAL seconds since the Unix epoch: every worker
  agrees without any shared start time, and a restart does not shift them. The time zone
  plays no part (an INTERVAL of 86400 fires at midnight UTC).
- **Cron expressions** are read by cronsim in the schedule's time zone. Daylight saving
  time follows Debian cron, as cronsim does: a job at a fixed local time that falls in the
  hour skipped in spring runs when the clock jumps (01:30 in Europe/London runs at 02:00
  BST), and one in the hour repeated in autumn runs once, at its first occurrence; a job
  whose minute or hour field starts with `*` fires by the real clock (every 30 minutes
  stays every 30 minutes across both changes).
"""

from datetime import UTC, datetime

from cronsim import CronSim


def latest(schedule, now):
    """The latest slot at or before `now` (epoch seconds), or None if there is none."""
    moment = int(now)
    if schedule.interval is not None:
        return moment - moment % schedule.interval
    # CronSim in reverse starts one second back: from moment + 1 it may find moment itself.
    start = datetime.fromtimestamp(moment + 1, UTC).astimezone(schedule.zone)
    try:
        return int(next(CronSim(schedule.cron, start, reverse=True)).timestamp())
    except StopIteration:
        return None


def following(schedule, now):
    """The first slot after `now` (epoch seconds), or None if there is none."""
    moment = int(now)
    if schedule.interval is not None:
        return moment - moment % schedule.interval + schedule.interval
    start = datetime.fromtimestamp(moment, UTC).astimezone(schedule.zone)
    try:
        return int(next(CronSim(schedule.cron, start)).timestamp())
    except StopIteration:
        return None


def as_datetime(slot):
    """A slot as an aware datetime in UTC."""
    return datetime.fromtimestamp(slot, UTC)
