"""Certificates without manual steps: ACME (Let's Encrypt) settings for the Docker host and the Ingress."""

from __future__ import annotations

import ipaddress
from typing import Optional
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email
from pydantic import SecretStr, field_validator, model_validator

from components.acme import LETSENCRYPT, LETSENCRYPT_STAGING
from stacks import rules
from stacks.rules import KeyedError
from stacks.strict import Strict


def acme_email(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    try:
        # Syntax only: no DNS lookup while the program runs.
        return validate_email(value, check_deliverability=False).normalized
    except EmailNotValidError as error:
        raise ValueError(f"{value!r} is not an e-mail address ({error}); give the address the CA writes to "
                         "about the account, e.g. ops@example.com") from None


def acme_server(value: Optional[str]) -> Optional[str]:
    if value is None:
        return None
    rules.http_url(value, "https://acme.example.internal/directory")
    if urlsplit(value).scheme != "https":
        raise ValueError("an ACME directory is served over https (RFC 8555); give its https:// URL")
    return value


def directory(staging: bool, server: Optional[str]) -> str:
    """The ACME directory URL: the given one, else Let's Encrypt's (staging or production)."""
    return server or (LETSENCRYPT_STAGING if staging else LETSENCRYPT)


def http01_domain_problem(domain: Optional[str], key: str) -> Optional[KeyedError]:
    """Why HTTP-01 cannot prove `domain` (None: it can)."""
    if domain is None:
        return KeyedError(key, f"{key}: ACME issues a certificate for `domain`; set `domain` to the name users "
                               "reach Dify by (its DNS record must point at the entry), e.g. "
                               "`pulumi config set domain dify.example.com`")
    try:
        ipaddress.ip_address(domain)
    except ValueError:
        pass
    else:
        return KeyedError("domain", f"domain {domain} is an IP address: Let's Encrypt issues certificates for DNS "
                                    "names only; set `domain` to a DNS name that points at this address, or give "
                                    "the certificate yourself")
    return None


class DockerTlsSettings(Strict):
    """TLS in nginx on the Docker host: either a certificate (PEM chain and key, both set with
    `pulumi config set --secret`), or `acmeEmail` for a Let's Encrypt certificate obtained and renewed
    on the host (HTTP-01 through nginx's port 80)."""

    certificate: Optional[SecretStr] = None
    key: Optional[SecretStr] = None
    acme_email: Optional[str] = None
    acme_staging: bool = False
    acme_server: Optional[str] = None

    _email = field_validator("acme_email")(lambda cls, v: acme_email(v))
    _server = field_validator("acme_server")(lambda cls, v: acme_server(v))

    @model_validator(mode="after")
    def _one_source(self) -> "DockerTlsSettings":
        given = self.certificate is not None or self.key is not None
        if self.acme_email is not None and given:
            raise KeyedError("docker.tls.acmeEmail", "docker.tls.acmeEmail obtains a certificate and "
                             "docker.tls.certificate/key give one; keep only one of them")
        if self.acme_email is None:
            extra = [k for k, on in (("acmeStaging", self.acme_staging), ("acmeServer", self.acme_server)) if on]
            if extra:
                raise KeyedError(f"docker.tls.{extra[0]}", f"docker.tls.{extra[0]} shapes ACME issuance, which "
                                 "docker.tls.acmeEmail turns on; set docker.tls.acmeEmail or remove the key")
            if not given:
                raise KeyedError("docker.tls", "docker.tls needs a certificate (docker.tls.certificate and "
                                 "docker.tls.key) or docker.tls.acmeEmail for a Let's Encrypt one")
        if self.acme_staging and self.acme_server is not None:
            raise KeyedError("docker.tls.acmeStaging", "docker.tls.acmeServer names the directory; "
                             "docker.tls.acmeStaging picks Let's Encrypt's staging one: set only one")
        if given:
            if self.certificate is None or "BEGIN CERTIFICATE" not in self.certificate.get_secret_value():
                raise KeyedError("docker.tls.certificate", "docker.tls.certificate must be a PEM certificate chain")
            if self.key is None or "PRIVATE KEY" not in self.key.get_secret_value():
                raise KeyedError("docker.tls.key", "docker.tls.key must be a PEM private key")
        return self

    @property
    def acme(self) -> bool:
        return self.acme_email is not None

    @property
    def directory(self) -> str:
        return directory(self.acme_staging, self.acme_server)
