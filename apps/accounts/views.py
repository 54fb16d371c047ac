"""Sign-up and the lock-out page: the accounts views Django does not ship."""

import math

from django.conf import settings
from django.db import IntegrityError, transaction
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.views import RedirectURLMixin
from django.http import HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.utils.cache import add_never_cache_headers
from django.utils.decorators import method_decorator
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic.edit import FormView

from .forms import SignupForm


# The same protections as Django's LoginView: passwords kept out of error reports, no caching.
@method_decorator(
    [login_not_required, sensitive_post_parameters(), csrf_protect, never_cache],
    name="dispatch",
)
class SignupView(RedirectURLMixin, FormView):
    """Create an account with SignupForm, log the new user in and send them on.

    Like LoginView, it goes to a safe ``next`` if one was given, else LOGIN_REDIRECT_URL,
    and a user already signed in is sent there straight away.
    """

    form_class = SignupForm
    template_name = "registration/signup.html"

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated:
            return HttpResponseRedirect(self.get_success_url())
        return super().dispatch(request, *args, **kwargs)

    def get_default_redirect_url(self):
        """LOGIN_REDIRECT_URL, where a fresh log-in lands too."""
        return resolve_url(settings.LOGIN_REDIRECT_URL)

    def form_valid(self, form):
        """Save the user and log them in: signing up is signing in."""
        try:
            with transaction.atomic():
                user = form.save()
        except IntegrityError:
            # Another sign-up took the username or address since the form was checked: a
            # second check now names which.
            form = self.get_form()
            if form.is_valid():
                raise
            return self.form_invalid(form)
        # Signed in by the backend that checks passwords (the throttle's checks none).
        auth_login(self.request, user, backend="django.contrib.auth.backends.ModelBackend")
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs):
        """The form, and ``next`` for the template's hidden field, as LoginView gives."""
        context = super().get_context_data(**kwargs)
        context[self.redirect_field_name] = self.get_redirect_url()
        return context


def locked_out(request, original_response=None, credentials=None):
    """The lock-out page (django-axes's AXES_LOCKOUT_CALLABLE), for the site and the admin.

    429 Too Many Requests, with Retry-After. The throttle cannot ask the cache when a
    counter expires, so the whole window is quoted: an upper bound. The page names both
    ways back in: wait for the window to end, or reset the password by email (a reset
    does not lift the lock-out, but the new password works once it ends; from another
    address the pair's lock-out does not apply at all).
    """
    window = settings.STRATUS_LOGIN_WINDOW
    response = render(request, "registration/locked_out.html",
                      {"retry": describe_seconds(window), "login_url": request.path,
                       "reset_url": resolve_url("password_reset")},
                      status=429)
    response["Retry-After"] = str(window)
    add_never_cache_headers(response)
    return response


def describe_seconds(seconds):
    """A wait in words, rounded up: "15 minutes", "1 minute", "30 seconds"."""
    if seconds < 60:
        return ngettext("%(count)d second", "%(count)d seconds", seconds) % {"count": seconds}
    minutes = math.ceil(seconds / 60)
    return ngettext("%(count)d minute", "%(count)d minutes", minutes) % {"count": minutes}
