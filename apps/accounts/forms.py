"""The log-in form: Django's AuthenticationForm behind the log-in throttle."""

import logging
import math

from django.contrib.auth.forms import AuthenticationForm
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from django.views.decorators.debug import sensitive_variables

from .throttle import LoginThrottle, client_ip

log = logging.getLogger(__name__)


class LoginForm(AuthenticationForm):
    """AuthenticationForm that refuses throttled attempts before checking the password.

    A refused attempt is not authenticated at all, so even the right password fails
    until the window passes, and a guesser learns nothing from it. Failures are counted
    and logged; a success clears the username's counter.
    """

    error_messages = {
        **AuthenticationForm.error_messages,
        "throttled": _("Too many failed log-in attempts. Try again in %(retry)s."),
    }

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.throttle = LoginThrottle.from_settings()

    @sensitive_variables()
    def clean(self):
        """Consult the throttle, authenticate, then count a failure or clear the counter."""
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is None or not password:
            # A field is missing and has its own error; nothing will be authenticated.
            return super().clean()

        ip = client_ip(self.request) if self.request is not None else None
        if self.throttle.is_locked_out(username, ip):
            log.warning("login refused reason=throttled username=%r ip=%s", username, ip)
            raise ValidationError(
                self.error_messages["throttled"], code="throttled",
                params={"retry": describe_seconds(self.throttle.window)},
            )
        try:
            super().clean()
        except ValidationError:
            # user_cache is set when the password was right but the user may not log in
            # (inactive): that is no guess, so it is not counted.
            if self.user_cache is None:
                user_failures, ip_failures = self.throttle.record_failure(username, ip)
                log.warning(
                    "login failed username=%r ip=%s user_failures=%d ip_failures=%s limit=%d",
                    username, ip, user_failures, ip_failures, self.throttle.attempts,
                )
            raise
        self.throttle.clear(username)
        return self.cleaned_data


def describe_seconds(seconds):
    """A wait in words, rounded up: "15 minutes", "1 minute", "30 seconds".

    The throttle cannot ask the cache when a counter expires, so the whole window is
    quoted: an upper bound, and a retry after it is sure to be checked again.
    """
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
