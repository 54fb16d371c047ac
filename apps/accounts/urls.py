"""Accounts URLs, under /accounts/: Django's auth views, our log-in form, and sign-up.

The names carry no namespace (``login``, ``logout`` …) because Django's settings and
decorators (LOGIN_URL, login_required, PasswordChangeView's success_url) use them bare.
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from .forms import LoginForm
from .views import SignupView

urlpatterns = [
    path("signup/", SignupView.as_view(), name="signup"),
    path("login/", auth_views.LoginView.as_view(
        authentication_form=LoginForm, redirect_authenticated_user=True), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("password_change/", auth_views.PasswordChangeView.as_view(), name="password_change"),
    path("password_change/done/", auth_views.PasswordChangeDoneView.as_view(),
         name="password_change_done"),
]
