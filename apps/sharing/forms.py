"""The owner's form for a new share link, and the visitor's password form."""

from datetime import datetime, time, timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

#: How long a link may last, by name: the choices the owner picks from (or a date).
DURATIONS = {
    "1h": ("1 hour", timedelta(hours=1)),
    "1d": ("1 day", timedelta(days=1)),
    "7d": ("7 days", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
}
UNTIL_DATE = "date"


class ShareLinkForm(forms.Form):
    """When the link expires (a duration, or the end of a chosen day) and an optional
    password. cleaned_data["expires_at"] is the moment it expires."""

    expires_in = forms.ChoiceField(
        label="Expires after",
        choices=[*((key, label) for key, (label, _) in DURATIONS.items()),
                 (UNTIL_DATE, "the end of a date…")],
        initial="7d")
    expires_on = forms.DateField(
        label="Date", required=False, widget=forms.DateInput(attrs={"type": "date"}),
        help_text="With “the end of a date”: the link works until that day ends (UTC).")
    password = forms.CharField(
        label="Password (optional)", required=False, strip=False, max_length=128,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text="Whoever opens the link must type it before downloading.")

    def clean(self):
        cleaned = super().clean()
        choice = cleaned.get("expires_in")
        now = timezone.now()
        if choice in DURATIONS:
            cleaned["expires_at"] = now + DURATIONS[choice][1]
        elif choice == UNTIL_DATE:
            day = cleaned.get("expires_on")
            if day is None:
                if "expires_on" not in self.errors:
                    self.add_error("expires_on", "Choose the date the link works until.")
                return cleaned
            limit = settings.STRATUS_SHARE_MAX_DAYS
            today = timezone.localdate(now)
            if day < today:
                self.add_error("expires_on", "Choose today or a later date.")
            elif day > today + timedelta(days=limit):
                self.add_error("expires_on", f"A link can last at most {limit} days.")
            else:
                # The end of the day: midnight after it, in the site's time zone.
                cleaned["expires_at"] = timezone.make_aware(
                    datetime.combine(day + timedelta(days=1), time.min))
        return cleaned


class SharePasswordForm(forms.Form):
    """The visitor's form for a link with a password."""

    password = forms.CharField(label="Password", strip=False, max_length=128,
                               widget=forms.PasswordInput(attrs={"autocomplete": "off"}))
