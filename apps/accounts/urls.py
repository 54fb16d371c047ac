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
]
