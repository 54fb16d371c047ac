"""Sign-up, the one accounts view Django does not ship; the rest are Django's auth views."""

from django.conf import settings
from django.contrib.auth import login as auth_login
from django.contrib.auth.decorators import login_not_required
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.views import RedirectURLMixin
from django.http import HttpResponseRedirect
from django.shortcuts import resolve_url
from django.utils.decorators import method_decorator
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.generic.edit import FormView


# The same protections as Django's LoginView: passwords kept out of error reports, no caching.
@method_decorator(
    [login_not_required, sensitive_post_parameters(), csrf_protect, never_cache],
    name="dispatch",
)
class SignupView(RedirectURLMixin, FormView):
    """Create an account with UserCreationForm, log the new user in and send them on.

    Like LoginView, it goes to a safe ``next`` if one was given, else LOGIN_REDIRECT_URL,
    and a user already signed in is sent there straight away.
    """

    form_class = UserCreationForm
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
        user = form.save()
        auth_login(self.request, user)
        return HttpResponseRedirect(self.get_success_url())

    def get_context_data(self, **kwargs):
        """The form, and ``next`` for the template's hidden field, as LoginView gives."""
        context = super().get_context_data(**kwargs)
        context[self.redirect_field_name] = self.get_redirect_url()
        return context
