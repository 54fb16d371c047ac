"""Accounts URLs, under /accounts/: Django's auth views and sign-up.

The names carry no namespace (``login``, ``logout`` …) because Django's settings and
decorators (LOGIN_URL, login_required, PasswordChangeView's success_url) use them bare.
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from .views import SignupView

urlpatterns = [
    path("signup/", SignupView.as_view(), name="signup"),
    # Throttled, as every authenticate() is, by django-axes (lockout.py).
    path("login/", auth_views.LoginView.as_view(redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
    # Password reset by email: Django's four views at their conventional paths. The mail
    # goes through EMAIL_BACKEND (SES in production, the console under `make run`).
    path("password_reset/", auth_views.PasswordResetView.as_view(), name="password_reset"),
    path("password_reset/done/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    # A reset logs the user in: the link proved they read the account's mail, and it is
    # the way back in that a lock-out page offers (the throttle counts authenticate()
    # calls; this log-in makes none). Signed in by the backend that checks passwords.
    path("reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(
        post_reset_login=True,
        post_reset_login_backend="django.contrib.auth.backends.ModelBackend"),
        name="password_reset_confirm"),
    path("reset/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
]
