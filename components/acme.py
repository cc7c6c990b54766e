"""A Let's Encrypt certificate for nginx on one Docker host, obtained and renewed by certbot (HTTP-01).

- volume `acme-certs` (certbot's /etc/letsencrypt): the ACME account key and the certificates; they never
  pass through Pulumi;
- volume `acme-webroot`: the challenge files certbot writes and nginx serves on port 80 at
  /.well-known/acme-challenge/, ahead of the redirect to HTTPS;
- before nginx first starts, a run-once step writes a temporary self-signed certificate where nginx reads
  its certificate, so nginx starts (and answers the challenge) before the first issuance;
- the ACME container obtains the certificate, points nginx's certificate paths at it, then checks twice a
  day (an hour after a failure, within the CA's failed-validation limits); certbot renews when the CA's
  renewal information (ARI) says so, or else with a third of the lifetime left (30 of Let's Encrypt's 90 days);
- nginx looks at its certificate files every 5 minutes and reloads itself when they changed and its
  configuration tests good (a failed test keeps the running configuration and is tried again).
"""

from __future__ import annotations

import hashlib
import shlex
from dataclasses import dataclass

from components.workload import ConfigFile, ServiceSpec, StateMount

LETSENCRYPT = "https://acme-v02.api.letsencrypt.org/directory"
LETSENCRYPT_STAGING = "https://acme-staging-v02.api.letsencrypt.org/directory"

CERTS_VOLUME, WEBROOT_VOLUME = "acme-certs", "acme-webroot"
CONFIG_DIR = "/etc/letsencrypt"
WEBROOT = "/var/www/acme"
WORK_DIR, LOGS_DIR = "/var/lib/letsencrypt", "/var/log/letsencrypt"
# Where nginx reads its certificate: the placeholder first, then links into certbot's live directory.
CERTIFICATE = f"{CONFIG_DIR}/dify/tls.crt"
KEY = f"{CONFIG_DIR}/dify/tls.key"
SCRIPT_DIR = "/opt/dify-acme"
RENEW_SCRIPT = f"{SCRIPT_DIR}/renew.sh"
PLACEHOLDER_SCRIPT = f"{SCRIPT_DIR}/placeholder.py"
# The nginx image's entrypoint runs the executable *.sh files here before it starts nginx.
RELOAD_SCRIPT = "/docker-entrypoint.d/40-dify-reload-on-new-certificate.sh"
CHECK_EVERY_S, RETRY_AFTER_S = 12 * 3600, 3600
RELOAD_CHECK_S = 300

MOUNTS = (StateMount(CERTS_VOLUME, CONFIG_DIR), StateMount(WEBROOT_VOLUME, WEBROOT))


@dataclass(frozen=True)
class Acme:
    """The certificate to obtain: for `domain`, from the ACME `directory`, with `email` on the account."""

    domain: str
    email: str
    directory: str = LETSENCRYPT

    @property
    def lineage(self) -> str:
        """certbot's name for the certificate. Each directory gets its own, so moving from staging to
        production obtains a new certificate instead of keeping the staging one until it is due."""
        if self.directory == LETSENCRYPT:
            return self.domain
        if self.directory == LETSENCRYPT_STAGING:
            return f"{self.domain}-staging"
        return f"{self.domain}-{hashlib.sha256(self.directory.encode()).hexdigest()[:8]}"


def certbot_command(acme: Acme) -> tuple[str, ...]:
    """One check: obtain the certificate, or renew it when due (otherwise certbot does nothing)."""
    return (
        "certbot", "certonly", "--non-interactive", "--agree-tos", "--no-eff-email",
        "--email", acme.email, "--server", acme.directory,
        "--webroot", "--webroot-path", WEBROOT,
        "--cert-name", acme.lineage, "--domains", acme.domain, "--keep-until-expiring",
        "--config-dir", CONFIG_DIR, "--work-dir", WORK_DIR, "--logs-dir", LOGS_DIR, "--max-log-backups", "20",
    )


def renew_script(acme: Acme) -> str:
    live = f"../live/{acme.lineage}"
    return f"""#!/bin/sh
# Rendered by the Dify deployment; do not edit on the host.
# Obtains the certificate for {acme.domain} and checks it twice a day (an hour after a failure).
# `renew.sh once`: one check now; its exit code tells the result.
set -u
check() {{
  {shlex.join(certbot_command(acme))} || return 1
  # nginx's certificate paths follow the lineage (certbot updates its live links on renewal).
  ln -sfn {shlex.quote(f"{live}/privkey.pem")} {KEY} && ln -sfn {shlex.quote(f"{live}/fullchain.pem")} {CERTIFICATE}
}}
if [ "${{1:-}}" = once ]; then
  check
  exit
fi
trap 'exit 0' TERM INT
while :; do
  if check; then
    pause={CHECK_EVERY_S}
  else
    pause={RETRY_AFTER_S}
    echo "no certificate for {acme.domain} yet (see the lines above); next try in $pause s" >&2
  fi
  sleep "$pause" &
  wait $!
done
"""


PLACEHOLDER = '''"""A temporary self-signed certificate for nginx until the first one is issued; never replaces one."""
import datetime
import os
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

certificate, key_path, domain = sys.argv[1:]
if os.path.exists(certificate) and os.path.exists(key_path):
    sys.exit(0)
os.makedirs(os.path.dirname(certificate), exist_ok=True)
for path in (certificate, key_path):
    if os.path.lexists(path):
        os.unlink(path)
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain)]), critical=False)
        .sign(key, hashes.SHA256()))
with os.fdopen(os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
    out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()))
with open(certificate, "wb") as out:
    out.write(cert.public_bytes(serialization.Encoding.PEM))
print(f"temporary self-signed certificate for {domain} written; the ACME container replaces it")
'''


def reload_script() -> str:
    return f"""#!/bin/sh
# Rendered by the Dify deployment; do not edit on the host.
# Reloads nginx when the certificate the ACME container maintains changed (checked every {RELOAD_CHECK_S} s).
fingerprint() {{
  cat {CERTIFICATE} {KEY} 2>/dev/null | cksum
}}
(
  loaded=$(fingerprint)
  while :; do
    sleep {RELOAD_CHECK_S}
    current=$(fingerprint)
    if [ "$current" != "$loaded" ] && nginx -t -q && nginx -s reload; then
      echo "certificate changed: nginx reloaded" >&2
      loaded=$current
    fi
  done
) &
"""


def placeholder_step(acme: Acme, image: str) -> ServiceSpec:
    """Runs before nginx, on nginx's volumes: the certbot image's Python writes the placeholder."""
    return ServiceSpec(
        name="nginx-certificate", upstream_name="certbot", image=image,
        entrypoint=("python3",), command=(PLACEHOLDER_SCRIPT, CERTIFICATE, KEY, acme.domain),
        files=(ConfigFile(PLACEHOLDER_SCRIPT, PLACEHOLDER),),
        state=MOUNTS, run_once=True,
    )


def acme_service(acme: Acme, image: str) -> ServiceSpec:
    """The ACME client: reaches the CA (internet), talks to no other service; nginx serves its challenges
    from the shared webroot."""
    return ServiceSpec(
        name="acme", upstream_name="certbot", image=image,
        entrypoint=("/bin/sh",), command=(RENEW_SCRIPT,),
        files=(ConfigFile(RENEW_SCRIPT, renew_script(acme)),),
        state=MOUNTS, depends_on=("nginx",), internet=True,
        grace_period_s=10,
    )


def nginx_files() -> tuple[ConfigFile, ...]:
    return (ConfigFile(RELOAD_SCRIPT, reload_script()),)
