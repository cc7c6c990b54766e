"""Are the credentials a target's providers read there? Checked where the providers look, without
calling any cloud: whether the keys are valid shows only when Pulumi uses them.

- AWS (pulumi-aws, the AWS SDK's chain): AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY; a web identity
  (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN); container credentials (ECS, EKS Pod Identity); or the
  profile AWS_PROFILE (else `default`) in ~/.aws/credentials or ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE,
  AWS_CONFIG_FILE move them). The EKS kubeconfig gets its tokens from the `aws` CLI, so it must be on PATH.
- Alibaba Cloud (pulumi-alicloud 4.x, the Terraform provider's settings): an access key pair from
  ALIBABA_CLOUD_ACCESS_KEY_ID / ALIBABA_CLOUD_ACCESS_KEY_SECRET (or ALICLOUD_ACCESS_KEY /
  ALICLOUD_SECRET_KEY); an ECS RAM role (ALICLOUD_ECS_ROLE_NAME); OIDC role assumption
  (ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE, ALIBABA_CLOUD_ROLE_ARN); a credentials
  URI; or the profile ALIBABA_CLOUD_PROFILE / ALICLOUD_PROFILE in ~/.aliyun/config.json (the provider
  reads the file only for a named profile).
- Kubernetes: kubernetes.kubeconfig in the stack, KUBECONFIG, ~/.kube/config, or running in a pod.
"""

from __future__ import annotations

import configparser
import json
import os
import shutil
from pathlib import Path
from typing import Any, Mapping, Optional

from rollout.errors import PreflightError

ON_A_CLOUD_MACHINE = "On a cloud machine whose role supplies credentials, pass --skip-credentials-check."


def _first(env: Mapping[str, str], *names: str) -> Optional[str]:
    return next((env[n] for n in names if env.get(n)), None)


def _aws_profiles(env: Mapping[str, str], home: Path) -> tuple[set[str], list[Path]]:
    credentials = Path(env.get("AWS_SHARED_CREDENTIALS_FILE") or home / ".aws" / "credentials")
    config = Path(env.get("AWS_CONFIG_FILE") or home / ".aws" / "config")
    names: set[str] = set()
    for path, is_config in ((credentials, False), (config, True)):
        parser = configparser.RawConfigParser()
        try:
            parser.read(path)
        except configparser.Error:
            continue
        for section in parser.sections():
            if is_config and section != "default":
                if not section.startswith("profile "):
                    continue  # sso-session and services sections
                section = section.removeprefix("profile ").strip()
            names.add(section)
    return names, [credentials, config]


def aws(env: Mapping[str, str] = os.environ, home: Optional[Path] = None) -> str:
    """How AWS credentials will be found; raises PreflightError when they will not."""
    home = home or Path.home()
    key, secret = env.get("AWS_ACCESS_KEY_ID"), env.get("AWS_SECRET_ACCESS_KEY")
    if key and secret:
        return "access keys from AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY"
    if key or secret:
        missing = "AWS_SECRET_ACCESS_KEY" if key else "AWS_ACCESS_KEY_ID"
        raise PreflightError(f"{missing} is not set, though its pair is: set both, or neither and use a profile.")
    token_file = env.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    if token_file and env.get("AWS_ROLE_ARN"):
        if not Path(token_file).is_file():
            raise PreflightError(f"AWS_WEB_IDENTITY_TOKEN_FILE names {token_file}, which does not exist.")
        return "a web identity token (AWS_WEB_IDENTITY_TOKEN_FILE, AWS_ROLE_ARN)"
    if _first(env, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"):
        return "the container's credentials endpoint"
    profile = env.get("AWS_PROFILE") or "default"
    profiles, files = _aws_profiles(env, home)
    if profile in profiles:
        return f"the AWS profile {profile!r}"
    where = " or ".join(str(f) for f in files)
    if env.get("AWS_PROFILE"):
        raise PreflightError(f"AWS_PROFILE is {profile!r}, but no such profile is in {where}.")
    raise PreflightError(
        "No AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_PROFILE, or "
        f"create a default profile with `aws configure` (or `aws configure sso`); looked in {where}. "
        + ON_A_CLOUD_MACHINE
    )


def aws_cli(env: Mapping[str, str] = os.environ) -> str:
    found = shutil.which("aws", path=env.get("PATH"))
    if found is None:
        raise PreflightError(
            "The AWS CLI (`aws`) is not on PATH: the EKS cluster's kubeconfig gets its tokens with "
            "`aws eks get-token`. Install AWS CLI v2."
        )
    return found


def _aliyun_profiles(path: Path) -> set[str]:
    try:
        data: Any = json.loads(path.read_text())
    except (OSError, ValueError):
        return set()
    profiles = data.get("profiles") if isinstance(data, dict) else None
    return {p.get("name") for p in profiles or [] if isinstance(p, dict) and p.get("name")}


def alicloud(env: Mapping[str, str] = os.environ, home: Optional[Path] = None) -> str:
    """How Alibaba Cloud credentials will be found; raises PreflightError when they will not."""
    home = home or Path.home()
    key = _first(env, "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALICLOUD_ACCESS_KEY", "ALIBABACLOUD_ACCESS_KEY_ID")
    secret = _first(env, "ALIBABA_CLOUD_ACCESS_KEY_SECRET", "ALICLOUD_SECRET_KEY", "ALIBABACLOUD_ACCESS_KEY_SECRET")
    if key and secret:
        return "an access key pair from the environment"
    if key or secret:
        missing = "ALIBABA_CLOUD_ACCESS_KEY_SECRET" if key else "ALIBABA_CLOUD_ACCESS_KEY_ID"
        raise PreflightError(f"{missing} is not set, though its pair is: set both, or neither and use a profile.")
    if _first(env, "ALICLOUD_ECS_ROLE_NAME", "ALIBABA_CLOUD_ECS_METADATA"):
        return "the ECS instance's RAM role"
    if all(env.get(n) for n in ("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "ALIBABA_CLOUD_OIDC_TOKEN_FILE",
                                "ALIBABA_CLOUD_ROLE_ARN")):
        return "an OIDC role (ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_ROLE_ARN)"
    if _first(env, "ALICLOUD_CREDENTIALS_URI", "ALIBABA_CLOUD_CREDENTIALS_URI"):
        return "a credentials URI"
    path = Path(_first(env, "ALICLOUD_SHARED_CREDENTIALS_FILE", "ALIBABA_CLOUD_CREDENTIALS_FILE")
                or home / ".aliyun" / "config.json")
    profile = _first(env, "ALICLOUD_PROFILE", "ALIBABA_CLOUD_PROFILE")
    if profile:
        if profile in _aliyun_profiles(path):
            return f"the profile {profile!r} in {path}"
        raise PreflightError(f"The Alibaba Cloud profile {profile!r} is not in {path}: run `aliyun configure "
                             f"--profile {profile}` or name an existing one.")
    hint = (f" {path} exists: name one of its profiles with ALIBABA_CLOUD_PROFILE=<name>."
            if path.exists() else "")
    raise PreflightError(
        "No Alibaba Cloud credentials found: set ALIBABA_CLOUD_ACCESS_KEY_ID and ALIBABA_CLOUD_ACCESS_KEY_SECRET "
        f"(a RAM user's AccessKey), or ALIBABA_CLOUD_PROFILE.{hint} " + ON_A_CLOUD_MACHINE
    )


def kubeconfig(stack_config: Mapping[str, Any], env: Mapping[str, str] = os.environ,
               home: Optional[Path] = None) -> str:
    """Where the kubernetes target finds its cluster; raises PreflightError when nowhere."""
    home = home or Path.home()
    k8s = stack_config.get("kubernetes")
    if isinstance(k8s, dict) and k8s.get("kubeconfig"):
        return "kubernetes.kubeconfig in the stack's config"
    if env.get("KUBECONFIG"):
        files = [Path(p) for p in env["KUBECONFIG"].split(os.pathsep) if p]
        if any(f.is_file() for f in files):
            return f"KUBECONFIG ({env['KUBECONFIG']})"
        raise PreflightError(f"KUBECONFIG is {env['KUBECONFIG']!r}, but no such file exists.")
    if (home / ".kube" / "config").is_file():
        return str(home / ".kube" / "config")
    if env.get("KUBERNETES_SERVICE_HOST"):
        return "the pod's service account"
    raise PreflightError(
        f"No kubeconfig: neither KUBECONFIG nor {home / '.kube' / 'config'} exists. Point KUBECONFIG at your "
        "cluster's kubeconfig, or set it in the stack with "
        "`pulumi config set --path --secret kubernetes.kubeconfig \"$(cat kubeconfig.yaml)\"`."
    )
