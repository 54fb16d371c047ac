"""The fleet's settings for the chaos run (bench/fleet.py): the project's, with a fast hasher.

The benchmark's virtual users log in thousands of times on a 2-core machine; with Django's
PBKDF2 the CPU would go on hashing passwords, not on what the run measures. Both Stratus and
the baseline (bench/baseline_settings.py, built on this module) use this hasher, so the
comparison stays fair. Never for production: MD5 is fast for attackers too.
"""

from project.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
