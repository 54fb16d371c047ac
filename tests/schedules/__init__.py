"""Periodic tasks: schedules, slots, claims, the scheduler, its admin page."""
