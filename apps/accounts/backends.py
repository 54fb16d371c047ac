"""The authentication backend that refuses locked-out log-ins before any password is checked."""

from asgiref.sync import sync_to_async
from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes's check, first in AUTHENTICATION_BACKENDS, for every authenticate() call.

    AxesStandaloneBackend raises PermissionDenied for a locked-out attempt, which stops
    authenticate() before the next backend checks the password. Axes's class has no
    ``aauthenticate``, which Django's ``aauthenticate()`` calls on every backend: without
    it that path would fail with AttributeError instead of being throttled. It never
    authenticates anyone, and has no ``get_user``, so ``login()`` and ``force_login()``
    never pick it as the user's backend.
    """

    async def aauthenticate(self, request, **credentials):
        """authenticate(), for aauthenticate()."""
        return await sync_to_async(self.authenticate)(request, **credentials)
