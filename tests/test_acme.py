"""The Docker host's Let's Encrypt certificate as the program declares it (tests/test_acme_issuance.py runs it for
real): nginx's challenge location and certificate paths, the ACME container and the placeholder step, the
volumes that hold the account and certificates, and the combinations refused."""

from __future__ import annotations

import re
from pathlib import Path

import crossplane
import pytest

from components import acme, images
from stacks.settings_tls import DockerTlsSettings
from tests.change_plan import cached_run
from tools.mocks import run_program

CONTAINER = "docker:index/container:Container"
VOLUME = "docker:index/volume:Volume"
ACME = {"domain": "dify.example.com", "docker": {"tls": {"acmeEmail": "ops@example.com"}}}
PEM_CERT = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
PEM_KEY = "-----BEGIN PRIVATE KEY-----\nMIIE\n-----END PRIVATE KEY-----\n"


@pytest.fixture(scope="module")
def run():
    return cached_run("dev", ACME)


def _container(run, service):
    return run.named(CONTAINER, f"dify-dev-{service}")


def _uploads(container) -> dict[str, str]:
    return {u["file"]: u["content"] for u in container.plain.get("uploads") or []}


def _servers(text: str, tmp_path: Path) -> list[dict]:
    path = tmp_path / "default.conf"
    path.write_text(text)
    payload = crossplane.parse(str(path), single=True, strict=False, check_ctx=False, check_args=False)
    assert payload["status"] == "ok", payload["errors"]
    return [d for d in payload["config"][0]["parsed"] if d["directive"] == "server"]


def test_port_80_answers_challenges_from_the_webroot_before_redirecting(run, tmp_path):
    conf = _uploads(_container(run, "nginx"))["/etc/nginx/conf.d/default.conf"]
    plain, tls = _servers(conf, tmp_path)
    locations = [(d["args"], {c["directive"]: c["args"] for c in d["block"]})
                 for d in plain["block"] if d["directive"] == "location"]
    challenge = [block for args, block in locations if args == ["^~", "/.well-known/acme-challenge/"]]
    assert challenge == [{"root": [acme.WEBROOT], "default_type": ["text/plain"]}]
    assert [block for args, block in locations if args == ["/"]] == [{"return": ["301", "https://$host$request_uri"]}]
    directives = {d["directive"]: d["args"] for d in tls["block"]}
    assert directives["ssl_certificate"] == [acme.CERTIFICATE]
    assert directives["ssl_certificate_key"] == [acme.KEY]
    # Only the port-80 server serves challenges.
    assert conf.count("acme-challenge") == 1


def test_the_acme_container_reaches_only_the_ca_and_shares_the_volumes_with_nginx(run):
    client, nginx, step = (_container(run, s) for s in ("acme", "nginx", "nginx-certificate"))
    assert [n["name"] for n in client.inputs["networksAdvanced"]] == ["dify-dev-net-egress-acme"]
    assert not client.inputs.get("ports")
    mounts = {m["target"]: m["source"] for m in client.inputs["mounts"]}
    assert mounts == {acme.CONFIG_DIR: "dify-dev-acme-certs", acme.WEBROOT: "dify-dev-acme-webroot"}
    assert {m["target"]: m["source"] for m in nginx.inputs["mounts"]} == mounts
    assert {m["target"]: m["source"] for m in step.inputs["mounts"]} == mounts
    assert {p["internal"]: p["external"] for p in nginx.inputs["ports"]} == {8080: 80, 8443: 443}
    assert client.inputs["restart"] == "unless-stopped" and step.inputs["restart"] == "no"
    assert _uploads(nginx)[acme.RELOAD_SCRIPT] == acme.reload_script()
    # nginx starts on the placeholder: the step ran first; the ACME client starts after nginx.
    assert step.urn in nginx.dependency_urns and nginx.urn in client.dependency_urns
    retained = {v.name: v.options.get("retainOnDelete") for v in run.of_type(VOLUME)}
    assert retained["dify-dev-acme-certs"] and retained["dify-dev-acme-webroot"]
    assert run.outputs["acmeDirectory"] == acme.LETSENCRYPT
    assert {"dify-dev-acme-certs", "dify-dev-acme-webroot"} <= set(run.outputs["stateVolumes"])


def test_the_certificate_and_account_key_never_pass_through_the_program(run):
    for container in run.of_type(CONTAINER):
        for content in _uploads(container).values():
            assert "PRIVATE KEY-----" not in content, container.name
    assert not [f for f in _uploads(_container(run, "nginx")) if f.endswith(("tls.key", "tls.crt"))]


def test_the_renew_script_checks_twice_a_day_with_certbots_own_due_date(run):
    script = _uploads(_container(run, "acme"))[acme.RENEW_SCRIPT]
    command = re.search(r"^  (certbot certonly .*) \|\| return 1$", script, re.M).group(1).split()
    assert "--keep-until-expiring" in command and "--force-renewal" not in command
    assert command[command.index("--server") + 1] == acme.LETSENCRYPT
    assert command[command.index("--domains") + 1] == "dify.example.com"
    assert command[command.index("--webroot-path") + 1] == acme.WEBROOT
    assert f"pause={12 * 3600}" in script and f"pause={3600}" in script
    assert images.CERTBOT.startswith("certbot/certbot:v") and not images.CERTBOT.endswith(":latest")


def test_the_test_tools_install_the_release_the_container_runs():
    version = images.CERTBOT.rsplit(":v", 1)[1]
    script = (Path(__file__).resolve().parent.parent / "scripts" / "tools" / "certbot.sh").read_text()
    assert f'CERTBOT_VERSION="${{CERTBOT_VERSION:-{version}}}"' in script


def test_each_directory_gets_its_own_lineage():
    names = {acme.Acme("dify.example.com", "ops@example.com", d).lineage
             for d in (acme.LETSENCRYPT, acme.LETSENCRYPT_STAGING, "https://ca.internal/directory")}
    assert len(names) == 3 and "dify.example.com" in names and "dify.example.com-staging" in names
    staging = DockerTlsSettings.model_validate({"acmeEmail": "ops@example.com", "acmeStaging": True})
    assert staging.directory == acme.LETSENCRYPT_STAGING


def test_a_given_certificate_still_works_without_acme():
    tls = DockerTlsSettings.model_validate({"certificate": PEM_CERT, "key": PEM_KEY})
    assert not tls.acme


@pytest.mark.parametrize("overrides, secret_keys, key, hint", [
    ({"docker": {"tls": {"acmeEmail": "ops@example.com"}}}, (), "docker.tls.acmeEmail", "set `domain`"),
    ({"domain": "203.0.113.10", "docker": {"tls": {"acmeEmail": "ops@example.com"}}}, (), "domain", "IP address"),
    ({**ACME, "docker": {"tls": {"acmeEmail": "ops@example.com", "certificate": PEM_CERT, "key": PEM_KEY}}},
     ("docker",), "docker.tls.acmeEmail", "keep only one"),
    ({**ACME, "docker": {"tls": {"acmeEmail": "ops at example.com"}}}, (), "docker.tls.acmeEmail",
     "not an e-mail address"),
    ({**ACME, "docker": {"tls": {"acmeStaging": True}}}, (), "docker.tls.acmeStaging", "docker.tls.acmeEmail"),
    ({**ACME, "docker": {"tls": {"acmeEmail": "ops@example.com", "acmeStaging": True,
                                 "acmeServer": "https://ca.internal/directory"}}}, (), "docker.tls.acmeStaging",
     "set only one"),
    ({**ACME, "docker": {"tls": {"acmeEmail": "ops@example.com", "acmeServer": "http://ca.internal/dir"}}}, (),
     "docker.tls.acmeServer", "https"),
    ({**ACME, "docker": {"httpPort": 8080, "tls": {"acmeEmail": "ops@example.com"}}}, (), "docker.httpPort",
     "port 80"),
    ({**ACME, "docker": {"tls": {}}}, (), "docker.tls", "docker.tls.acmeEmail"),
])
def test_wrong_acme_config_is_rejected_naming_the_key(overrides, secret_keys, key, hint):
    with pytest.raises(Exception) as raised:
        run_program("dev", overrides=overrides, secret_keys=secret_keys)
    message = str(raised.value)
    assert key in message and hint in message, message
