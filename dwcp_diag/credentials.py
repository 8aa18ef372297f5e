"""Secrets by reference, and masking of credentials in anything shown to people.

A :class:`Secret` holds where a credential lives (an environment variable or a file), not the
credential itself; its value is read only when a connection is made, and its ``repr``/``str``
never show it. :func:`mask_url` and :func:`mask_dsn` strip credentials from URLs and
PostgreSQL DSNs before they go into a message, a log line or a report.

>>> s = Secret.from_env("PROM_TOKEN")
>>> repr(s), str(s)
('Secret(env:PROM_TOKEN)', '***')
>>> mask_dsn("postgresql://monitor:hunter2@db:5432/app")
'postgresql://monitor:***@db:5432/app'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from dwcp_diag.errors import ConfigError

_SECRET_QUERY_KEYS = {"password", "passwd", "token", "access_token", "api_key", "apikey", "secret"}


@dataclass(frozen=True)
class Secret:
    """A credential referenced by environment variable (``env:NAME``) or file (``file:PATH``)."""

    kind: str
    name: str
    _environ: Mapping[str, str] | None = field(default=None, repr=False, compare=False)

    @classmethod
    def from_env(cls, name: str, environ: Mapping[str, str] | None = None) -> Secret:
        return cls("env", name, environ)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> Secret:
        return cls("file", str(Path(path).expanduser()))

    @classmethod
    def from_config_value(cls, value: str) -> Secret:
        """A value written in the config file itself (only a DSN that holds no password)."""
        return cls("config", value)

    @property
    def reference(self) -> str:
        """Where the secret lives, safe to print: ``env:NAME``, ``file:PATH`` or ``config``."""
        return "config" if self.kind == "config" else f"{self.kind}:{self.name}"

    def reveal(self) -> str:
        """Read the secret's value. Raises :class:`ConfigError` naming the reference if absent."""
        if self.kind == "config":
            return self.name
        if self.kind == "env":
            environ = self._environ if self._environ is not None else os.environ
            value = environ.get(self.name)
            if value is None or value == "":
                raise ConfigError(f"secret {self.reference} is not set in the environment")
            return value
        try:
            return Path(self.name).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"secret {self.reference} cannot be read: {exc.strerror or type(exc).__name__}"
            ) from None

    def is_available(self) -> bool:
        try:
            self.reveal()
        except ConfigError:
            return False
        return True

    def __repr__(self) -> str:
        return f"Secret({self.reference})"

    def __str__(self) -> str:
        return "***"


def secret_from_config(value: object, key: str, environ: Mapping[str, str]) -> Secret | None:
    """Turn a config value ``{env = "NAME"}`` or ``{file = "PATH"}`` into a :class:`Secret`.

    A literal string is refused: secrets never live in the config file itself.
    """
    if value is None:
        return None
    if isinstance(value, Mapping) and len(value) == 1:
        ((kind, name),) = value.items()
        if kind == "env" and isinstance(name, str) and name:
            return Secret.from_env(name, environ)
        if kind == "file" and isinstance(name, str) and name:
            return Secret.from_file(name)
    if isinstance(value, str):
        raise ConfigError(
            f"{key}: secrets are not written into the config file; reference one instead, "
            f'e.g. {key} = {{ env = "MY_VARIABLE" }} or {key} = {{ file = "/run/secrets/name" }}'
        )
    raise ConfigError(f'{key}: expected {{ env = "NAME" }} or {{ file = "PATH" }}')


def literal_dsn(value: str, key: str) -> Secret:
    """A PostgreSQL DSN written into the config file: accepted when it holds no password (libpq
    then reads it from ``PGPASSFILE``, ``~/.pgpass`` or ``PGPASSWORD``), refused when it does,
    without echoing it.

    >>> literal_dsn("host=db user=dwcp_monitor dbname=app", "postgres.dsn").reference
    'config'
    >>> literal_dsn("postgresql://mon:hunter2@db/app", "postgres.dsn")
    Traceback (most recent call last):
    ...
    dwcp_diag.errors.ConfigError: postgres.dsn holds a password; secrets are not written into \
the config file: drop it and let libpq read it from PGPASSFILE (~/.pgpass) or PGPASSWORD, or \
reference the whole DSN, e.g. postgres.dsn = { env = "MY_VARIABLE" }
    """
    from psycopg import Error as PsycopgError
    from psycopg.conninfo import conninfo_to_dict

    try:
        settings = conninfo_to_dict(value)
    except PsycopgError:  # its message may quote the DSN: not shown
        raise ConfigError(
            f'{key} is not a valid PostgreSQL DSN (e.g. "host=db user=monitor dbname=app" '
            'or "postgresql://monitor@db:5432/app")'
        ) from None
    if any(settings.get(name) for name in ("password", "sslpassword")):
        raise ConfigError(
            f"{key} holds a password; secrets are not written into the config file: drop it "
            "and let libpq read it from PGPASSFILE (~/.pgpass) or PGPASSWORD, or reference the "
            f'whole DSN, e.g. {key} = {{ env = "MY_VARIABLE" }}'
        )
    return Secret.from_config_value(value)


def mask_url(url: str) -> str:
    """Replace the password in a URL's user-info and secret-looking query values with ``***``.

    >>> mask_url("https://bob:pw@prom.example:9090/api?token=abc&x=1")
    'https://bob:***@prom.example:9090/api?token=%2A%2A%2A&x=1'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    netloc = parts.netloc
    if "@" in netloc:
        userinfo, host = netloc.rsplit("@", 1)
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:***@{host}" if ":" in userinfo else f"{user}@{host}"
    query = parts.query
    if query:
        pairs = [
            (k, "***" if k.lower() in _SECRET_QUERY_KEYS else v)
            for k, v in parse_qsl(query, keep_blank_values=True)
        ]
        query = urlencode(pairs)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


_KV_PASSWORD = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def mask_dsn(dsn: str) -> str:
    """Mask the password of a PostgreSQL DSN in URL or ``key=value`` form.

    >>> mask_dsn("host=db user=monitor password='s3 cret' dbname=app")
    'host=db user=monitor password=*** dbname=app'
    """
    if "://" in dsn:
        return mask_url(dsn)
    return _KV_PASSWORD.sub(r"\1***", dsn)


def scrub(text: str, secrets: list[str]) -> str:
    """Replace every occurrence of each secret value in ``text`` (last line of defence)."""
    for value in secrets:
        if value and len(value) >= 4:
            text = text.replace(value, "***")
    return text
