"""What the load test authenticates with. Secrets come from environment variables (a command line shows up
in `ps` and shell history); the key flags exist for one-off runs and are warned about."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Mapping, Optional

from loadtest.dify import encode_password

APP_KEY_ENV = "DIFY_APP_KEY"
DATASET_KEY_ENV = "DIFY_DATASET_KEY"
DATASET_ID_ENV = "DIFY_DATASET_ID"
CONSOLE_EMAIL_ENV = "DIFY_CONSOLE_EMAIL"
CONSOLE_PASSWORD_ENV = "DIFY_CONSOLE_PASSWORD"
CONSOLE_ACCESS_TOKEN_ENV = "DIFY_CONSOLE_ACCESS_TOKEN"
CONSOLE_CSRF_TOKEN_ENV = "DIFY_CONSOLE_CSRF_TOKEN"

# Dify's key prefixes: an app's API key (the app's "API Access" page) and a knowledge API key
# (Knowledge > API).
APP_KEY_PREFIX = "app-"
DATASET_KEY_PREFIX = "dataset-"


class CredentialsError(ValueError):
    """A credential is missing, incomplete or of the wrong kind; the message names the variable."""


@dataclass(frozen=True)
class Console:
    email: Optional[str] = None
    password: Optional[str] = field(default=None, repr=False)
    # An existing console session instead of a login: the access_token and csrf_token cookies.
    access_token: Optional[str] = field(default=None, repr=False)
    csrf_token: Optional[str] = field(default=None, repr=False)

    @property
    def logs_in(self) -> bool:
        return self.password is not None


@dataclass(frozen=True)
class Credentials:
    app_key: Optional[str] = field(default=None, repr=False)
    dataset_key: Optional[str] = field(default=None, repr=False)
    dataset_id: Optional[str] = None
    console: Optional[Console] = None

    def secrets(self) -> list[str]:
        """Every secret value (and the password as the login sends it), for scrubbing anything written out."""
        values = [self.app_key, self.dataset_key]
        if self.console:
            values += [self.console.access_token, self.console.csrf_token]
            if self.console.password:
                values += [self.console.password, encode_password(self.console.password)]
        return [v for v in values if v]

    def scenarios(self) -> list[str]:
        out = []
        if self.app_key:
            out.append("chat")
        if self.dataset_key:
            out.append("knowledge")
        if self.console:
            out.append("console")
        return out


def _get(env: Mapping[str, str], name: str) -> Optional[str]:
    value = env.get(name, "").strip()
    return value or None


def resolve(
    env: Mapping[str, str] = os.environ,
    app_key: Optional[str] = None,
    dataset_key: Optional[str] = None,
    dataset_id: Optional[str] = None,
    email: Optional[str] = None,
) -> Credentials:
    """The credentials from flags (where given) and the environment, checked."""
    app_key = app_key or _get(env, APP_KEY_ENV)
    dataset_key = dataset_key or _get(env, DATASET_KEY_ENV)
    dataset_id = dataset_id or _get(env, DATASET_ID_ENV)
    email = email or _get(env, CONSOLE_EMAIL_ENV)
    password = _get(env, CONSOLE_PASSWORD_ENV)
    access_token = _get(env, CONSOLE_ACCESS_TOKEN_ENV)
    csrf_token = _get(env, CONSOLE_CSRF_TOKEN_ENV)

    if app_key and not app_key.startswith(APP_KEY_PREFIX):
        raise CredentialsError(
            f"{APP_KEY_ENV} / --app-key is not an app API key (they start with {APP_KEY_PREFIX!r}): create one on "
            "the chat app's API Access page (Secret key)."
        )
    if dataset_key and not dataset_key.startswith(DATASET_KEY_PREFIX):
        raise CredentialsError(
            f"{DATASET_KEY_ENV} / --dataset-key is not a knowledge API key (they start with {DATASET_KEY_PREFIX!r}): "
            "create one under Knowledge > API."
        )
    if bool(dataset_key) != bool(dataset_id):
        missing = f"{DATASET_ID_ENV} / --dataset-id" if dataset_key else f"{DATASET_KEY_ENV} / --dataset-key"
        raise CredentialsError(
            f"knowledge retrieval needs both a knowledge API key and a knowledge base id: set {missing} "
            "(the id is the UUID in the knowledge base's URL, /datasets/<id>/documents)."
        )

    console = None
    if password or email:
        if not (password and email):
            missing = CONSOLE_PASSWORD_ENV if email else f"{CONSOLE_EMAIL_ENV} / --email"
            raise CredentialsError(f"a console login needs an email and a password: set {missing}.")
        if access_token or csrf_token:
            raise CredentialsError(
                f"give either a console login ({CONSOLE_EMAIL_ENV}, {CONSOLE_PASSWORD_ENV}) or a console session "
                f"({CONSOLE_ACCESS_TOKEN_ENV}, {CONSOLE_CSRF_TOKEN_ENV}), not both."
            )
        console = Console(email=email, password=password)
    elif access_token or csrf_token:
        if not (access_token and csrf_token):
            missing = CONSOLE_CSRF_TOKEN_ENV if access_token else CONSOLE_ACCESS_TOKEN_ENV
            raise CredentialsError(
                f"a console session needs both its access token and its CSRF token: set {missing} (the "
                "access_token and csrf_token cookies of a signed-in browser)."
            )
        console = Console(access_token=access_token, csrf_token=csrf_token)

    credentials = Credentials(app_key=app_key, dataset_key=dataset_key, dataset_id=dataset_id, console=console)
    if not credentials.scenarios():
        raise CredentialsError(
            f"nothing to test with: set {APP_KEY_ENV} (a chat app's API key), and/or {DATASET_KEY_ENV} with "
            f"{DATASET_ID_ENV} (knowledge retrieval), and/or {CONSOLE_EMAIL_ENV} with {CONSOLE_PASSWORD_ENV} "
            "(the console)."
        )
    return credentials
