"""The sign-up form: Django's UserCreationForm with an email address for password resets."""

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm


class SignupForm(UserCreationForm):
    """A username, an email address and a password typed twice.

    The address is required and belongs to one account only: Django's password reset
    mails every account whose address matches, so two accounts sharing one would both be
    reset by whoever reads that mailbox. Compared case-insensitively, as the reset form
    looks addresses up.
    """

    email = forms.EmailField(
        label="Email address", max_length=254,
        help_text="Where a password reset link is sent if you forget your password.",
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        """The address, normalised as Django's user manager does, if no account has it."""
        email = get_user_model().objects.normalize_email(self.cleaned_data["email"])
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise forms.ValidationError("An account with this email address already exists.",
                                        code="duplicate_email")
        return email
