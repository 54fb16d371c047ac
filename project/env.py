"""Reading settings from the environment, with defaults only where the mode allows them.

`Env` records every production variable that is missing instead of failing on the first,
so that start-up can name them all in one message.
"""

import os

from django.core.exceptions import ImproperlyConfigured

TRUE = {"1", "true", "yes", "on"}
FALSE = {"0", "false", "no", "off", ""}


class Env:
    """Typed access to os.environ for one settings mode (local or production)."""

    def __init__(self, production, environ=os.environ):
        self.production = production
        self.environ = environ
        self.missing = []

    def str(self, name, local_default=None, default=None, required_in_production=False):
        """The variable's value; in production a required one has no default."""
        value = self.environ.get(name)
        if value not in (None, ""):
            return value
        if self.production and required_in_production:
            self.missing.append(name)
            return ""
        return default if self.production else (local_default if local_default is not None
                                                 else default)

    def int(self, name, default, minimum=0, required_in_production=False):
        return self._number(name, default, minimum, int, "an integer", required_in_production)

    def float(self, name, default, minimum=0.0, required_in_production=False):
        return self._number(name, default, minimum, float, "a number", required_in_production)

    def _number(self, name, default, minimum, convert, kind, required_in_production):
        raw = self.environ.get(name)
        if raw in (None, ""):
            if self.production and required_in_production:
                self.missing.append(name)
            return default
        try:
            value = convert(raw)
        except ValueError:
            raise ImproperlyConfigured(f"{name} must be {kind}, not {raw!r}") from None
        if value < minimum:
            raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}")
        return value

    def bool(self, name, default):
        raw = self.environ.get(name)
        if raw is None:
            return default
        if raw.lower() in TRUE:
            return True
        if raw.lower() in FALSE:
            return False
        raise ImproperlyConfigured(f"{name} must be true or false, not {raw!r}")

    def list(self, name, local_default=(), required_in_production=False):
        value = self.str(name, ",".join(local_default),
                         required_in_production=required_in_production) or ""
        return [part.strip() for part in value.split(",") if part.strip()]

    def choice(self, name, choices, default):
        value = self.environ.get(name) or default
        if value not in choices:
            raise ImproperlyConfigured(f"{name} must be one of {', '.join(choices)}, not {value!r}")
        return value

    def check(self):
        """Stop start-up naming every missing production variable at once."""
        if self.missing:
            raise ImproperlyConfigured(
                "Production mode (DJANGO_ENV=production) needs these environment variables, "
                "which are not set: " + ", ".join(self.missing)
            )
