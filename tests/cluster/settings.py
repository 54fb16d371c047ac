"""The project's settings, with a fast password hasher: cluster tests log in thousands of times."""

from project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
