"""The stack's configuration: one strict model, read from Pulumi config.

Every key is written in Pulumi.<stack>.yaml under the project's namespace, in camelCase,
e.g. `dify-deploy:postgres: {mode: external, host: ...}` or, on the command line,
`pulumi config set --path postgres.host db.example.com`.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Literal, Optional

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.dify.releases import DEFAULT_VERSION, FEATURES, RELEASES, Release, nearest_known
from stacks.settings_alicloud import AlicloudSettings
from stacks.settings_aws import AwsSettings
from stacks.strict import Strict

# `kubernetes` (an existing cluster) is listed first so that messages naming the original three
# targets keep their wording.
Target = Literal["kubernetes", "docker", "aws", "alicloud"]
Size = Literal["dev", "small", "production"]
CLUSTER_TARGETS = ("kubernetes", "aws", "alicloud")
DataMode = Literal["self-hosted", "managed", "external"]
DifyService = Literal["api", "worker", "beat", "web", "sandbox", "pluginDaemon", "ssrfProxy", "nginx"]

_HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_SIZE = re.compile(r"^[1-9][0-9]*[kKmMgG]?$")


def _hostname(value: str) -> str:
    value = value.strip().lower()
    if value.startswith(("http://", "https://")) or "/" in value:
        raise ValueError("give a bare host name such as dify.example.com, without scheme or path")
    try:
        ipaddress.ip_address(value)
        return value
    except ValueError:
        pass
    if not _HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a valid DNS host name")
    return value


def _image_tag(value: str) -> str:
    if value in ("latest", "") or not _TAG.match(value):
        raise ValueError(f"{value!r} is not a pinned image tag; give an exact release such as 1.13.3")
    return value


class DifyFeatures(Strict):
    """Optional parts of Dify. Unset: on where the release has them, as upstream ships them."""

    agent: Optional[bool] = None
    collaboration: Optional[bool] = None


class DifySettings(Strict):
    """Dify itself: the release to run and the settings users commonly change."""

    version: str = DEFAULT_VERSION
    sandbox_version: Optional[str] = None
    plugin_daemon_version: Optional[str] = None
    agent_backend_version: Optional[str] = None
    local_sandbox_version: Optional[str] = None
    features: DifyFeatures = Field(default_factory=DifyFeatures)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    upload_file_size_limit_mb: int = Field(default=15, ge=1, le=10240)
    request_body_limit: str = "100M"
    pip_mirror_url: Optional[str] = None
    extra_env: dict[DifyService, dict[str, str]] = Field(default_factory=dict)

    _check_version = field_validator(
        "version", "sandbox_version", "plugin_daemon_version", "agent_backend_version", "local_sandbox_version"
    )(lambda cls, v: None if v is None else _image_tag(v))

    @field_validator("request_body_limit")
    @classmethod
    def _nginx_size(cls, value: str) -> str:
        if not _SIZE.match(value):
            raise ValueError("give an nginx size such as 100M or 1G")
        return value

    @field_validator("pip_mirror_url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("give a full URL such as https://pypi.tuna.tsinghua.edu.cn/simple")
        return value

    @field_validator("extra_env")
    @classmethod
    def _env_names(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        for service, env in value.items():
            for name in env:
                if not _ENV_NAME.match(name):
                    raise ValueError(f"{service}: {name!r} is not a valid environment variable name")
        return value

    @model_validator(mode="after")
    def _release_known(self) -> "DifySettings":
        base = RELEASES.get(self.version) or nearest_known(self.version)
        for feature in FEATURES:
            if getattr(self.features, feature) and feature not in base.features:
                having = ", ".join(v for v, r in sorted(RELEASES.items()) if feature in r.features)
                raise ValueError(
                    f"dify.features.{feature}: Dify {self.version} has no {feature} services "
                    f"(releases with them: {having}); remove the key or pick one of those releases"
                )
        if self.version in RELEASES:
            return self
        needed = ["sandbox_version", "plugin_daemon_version"]
        if self.enabled("agent", base):
            needed += ["agent_backend_version", "local_sandbox_version"]
        missing = [f"dify.{to_camel(n)}" for n in needed if getattr(self, n) is None]
        if missing:
            known = ", ".join(sorted(RELEASES))
            raise ValueError(
                f"Dify {self.version} is not a release known here (known: {known}); set {', '.join(missing)} "
                "to the tags upstream's docker/docker-compose.yaml pins at that release"
            )
        return self

    def enabled(self, feature: str, base: Optional[Release] = None) -> bool:
        base = base or RELEASES.get(self.version) or nearest_known(self.version)
        chosen = getattr(self.features, feature)
        return feature in base.features and chosen is not False

    @property
    def release(self) -> Release:
        """The release to deploy: the table's entry with this stack's tag overrides and features."""
        base = RELEASES.get(self.version) or nearest_known(self.version)
        return Release(
            version=self.version,
            sandbox=self.sandbox_version or base.sandbox,
            plugin_daemon=self.plugin_daemon_version or base.plugin_daemon,
            agent_backend=self.agent_backend_version or (base.agent_backend if self.version in RELEASES else None),
            local_sandbox=self.local_sandbox_version or (base.local_sandbox if self.version in RELEASES else None),
            features=frozenset(f for f in FEATURES if self.enabled(f, base)),
            daemon_migrates_apart=base.daemon_migrates_apart,
            lts=base.lts and self.version in RELEASES,
            optional_env=base.optional_env,
            extra_api_routes=base.extra_api_routes,
        )


class RegistrySettings(Strict):
    """Where images come from. `mirror` replaces Docker Hub (e.g. docker.m.daocloud.io)."""

    mirror: Optional[str] = None

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        value = value.rstrip("/")
        if "://" in value:
            raise ValueError("give a registry host and optional path, without scheme, e.g. docker.m.daocloud.io")
        return value


class PostgresSettings(Strict):
    mode: DataMode = "self-hosted"
    host: Optional[str] = None
    port: int = Field(default=5432, ge=1, le=65535)
    user: str = "dify"
    password: Optional[SecretStr] = None
    database: str = "dify"
    plugin_database: str = "dify_plugin"
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "disable"
    # PEM of the CA that signed the server's certificate, for sslMode verify-ca / verify-full.
    ca_certificate: Optional[str] = None

    _host = field_validator("host")(lambda cls, v: None if v is None else _hostname(v))

    @model_validator(mode="after")
    def _external(self) -> "PostgresSettings":
        _require_external(self, "postgres", ("host", "password"))
        if self.ssl_mode in ("verify-ca", "verify-full") and self.ca_certificate is None:
            raise ValueError(f"postgres.sslMode {self.ssl_mode} verifies the server's certificate: set "
                             "postgres.caCertificate to the PEM of its CA (pulumi config set --path "
                             "postgres.caCertificate \"$(cat ca.pem)\")")
        if self.ca_certificate is not None and "BEGIN CERTIFICATE" not in self.ca_certificate:
            raise ValueError("postgres.caCertificate must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
        if self.database == self.plugin_database:
            raise ValueError("postgres.pluginDatabase must differ from postgres.database")
        return self


class RedisSettings(Strict):
    mode: DataMode = "self-hosted"
    host: Optional[str] = None
    port: int = Field(default=6379, ge=1, le=65535)
    username: Optional[str] = None
    password: Optional[SecretStr] = None
    use_tls: bool = False
    db: int = Field(default=0, ge=0, le=15)
    broker_db: int = Field(default=1, ge=0, le=15)
    agent_db: int = Field(default=2, ge=0, le=15)

    _host = field_validator("host")(lambda cls, v: None if v is None else _hostname(v))

    @model_validator(mode="after")
    def _external(self) -> "RedisSettings":
        _require_external(self, "redis", ("host", "password"))
        if self.db == self.broker_db:
            raise ValueError("redis.brokerDb must differ from redis.db (Celery and the cache share one server)")
        if self.agent_db in (self.db, self.broker_db):
            raise ValueError("redis.agentDb must differ from redis.db and redis.brokerDb (the agent backend "
                             "keeps its own keys in its own database)")
        return self


class ObjectStorageSettings(Strict):
    mode: DataMode = "self-hosted"
    kind: Optional[Literal["s3", "oss", "s3-compatible"]] = None
    bucket: Optional[str] = None
    plugin_bucket: Optional[str] = None
    endpoint: Optional[str] = None
    region: Optional[str] = None
    access_key: Optional[SecretStr] = None
    secret_key: Optional[SecretStr] = None
    use_workload_identity: bool = False

    @field_validator("bucket", "plugin_bucket")
    @classmethod
    def _bucket(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
            raise ValueError("bucket names are 3-63 lower-case letters, digits, dots and hyphens")
        return value

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("give the endpoint as a URL, e.g. https://s3.example.com")
        return value

    @model_validator(mode="after")
    def _external(self) -> "ObjectStorageSettings":
        if self.mode != "external":
            return self
        _require_external(self, "objectStorage", ("kind", "bucket"))
        if self.kind in ("s3-compatible", "oss") and self.endpoint is None:
            raise ValueError(f"objectStorage.endpoint is required for kind {self.kind}")
        if self.kind == "oss" and self.region is None:
            raise ValueError("objectStorage.region is required for kind oss (e.g. cn-hangzhou)")
        if not self.use_workload_identity and (self.access_key is None or self.secret_key is None):
            raise ValueError(
                "objectStorage.accessKey and objectStorage.secretKey are required unless "
                "objectStorage.useWorkloadIdentity is true"
            )
        return self


def _require_external(settings: BaseModel, section: str, fields: tuple[str, ...]) -> None:
    if getattr(settings, "mode") != "external":
        return
    missing = [to_camel(f) for f in fields if getattr(settings, f) is None]
    if missing:
        keys = ", ".join(f"{section}.{m}" for m in missing)
        raise ValueError(f"mode external needs {keys}")


class TlsSettings(Strict):
    """A certificate for nginx: PEM chain and key, both set with `pulumi config set --secret`."""

    certificate: SecretStr
    key: SecretStr

    @model_validator(mode="after")
    def _pem(self) -> "TlsSettings":
        if "BEGIN CERTIFICATE" not in self.certificate.get_secret_value():
            raise ValueError("docker.tls.certificate must be a PEM certificate chain")
        if "PRIVATE KEY" not in self.key.get_secret_value():
            raise ValueError("docker.tls.key must be a PEM private key")
        return self


class DockerSettings(Strict):
    """The Docker host: local daemon by default, or ssh://user@host."""

    host: Optional[str] = None
    ssh_opts: list[str] = Field(default_factory=list)
    http_port: int = Field(default=80, ge=1, le=65535)
    https_port: int = Field(default=443, ge=1, le=65535)
    bind_address: str = "0.0.0.0"
    tls: Optional[TlsSettings] = None
    keep_volumes_on_destroy: bool = True

    @field_validator("host")
    @classmethod
    def _host(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not re.match(r"^(unix|tcp|ssh|npipe)://.+", value):
            raise ValueError("give a Docker host URL: unix:///var/run/docker.sock, ssh://user@host or tcp://host:2376")
        return value

    @field_validator("bind_address")
    @classmethod
    def _ip(cls, value: str) -> str:
        ipaddress.ip_address(value)
        return value

    @property
    def host_name(self) -> str:
        """The name users reach the host by, when no domain is configured."""
        if self.host and self.host.startswith(("ssh://", "tcp://")):
            netloc = self.host.split("://", 1)[1].split("/", 1)[0]
            return netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        return "localhost"


class KubernetesTlsSettings(TlsSettings):
    """A certificate served by nginx (entry loadBalancer) or by the Ingress (entry ingress)."""

    @model_validator(mode="after")
    def _pem(self) -> "KubernetesTlsSettings":
        if "BEGIN CERTIFICATE" not in self.certificate.get_secret_value():
            raise ValueError("kubernetes.tls.certificate must be a PEM certificate chain")
        if "PRIVATE KEY" not in self.key.get_secret_value():
            raise ValueError("kubernetes.tls.key must be a PEM private key")
        return self


class LoadBalancerSettings(Strict):
    """The nginx Service of type LoadBalancer. `cloud` picks the annotations its controller reads
    (aws: an NLB through the AWS Load Balancer Controller; alicloud: a CLB through the CCM);
    `annotations` are added on top (and win). `certificate` (an ACM ARN or an Alibaba Cloud
    certificate ID) terminates TLS at the load balancer."""

    cloud: Literal["generic", "aws", "alicloud"] = "generic"
    annotations: dict[str, str] = Field(default_factory=dict)
    certificate: Optional[str] = None
    internal: bool = False
    source_ranges: list[str] = Field(default_factory=list)
    load_balancer_class: Optional[str] = None

    @field_validator("source_ranges")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            try:
                ipaddress.ip_network(cidr, strict=False)
            except ValueError:
                raise ValueError(f"{cidr!r} is not a CIDR such as 203.0.113.0/24") from None
        return value

    @model_validator(mode="after")
    def _certificate(self) -> "LoadBalancerSettings":
        if self.certificate is None:
            return self
        if self.cloud == "generic":
            raise ValueError(
                "kubernetes.loadBalancer.certificate needs kubernetes.loadBalancer.cloud aws or alicloud; "
                "for another controller put its TLS annotations in kubernetes.loadBalancer.annotations"
            )
        if self.cloud == "aws" and not re.match(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
                                                self.certificate):
            raise ValueError(
                "kubernetes.loadBalancer.certificate must be an ACM certificate ARN "
                "(arn:aws:acm:<region>:<account>:certificate/<id>)"
            )
        return self


class IngressSettings(Strict):
    """An Ingress in front of nginx (`kubernetes.entry: ingress`). `tlsSecret` names an existing TLS
    Secret in the namespace (e.g. one cert-manager maintains)."""

    class_name: Optional[str] = None
    annotations: dict[str, str] = Field(default_factory=dict)
    tls_secret: Optional[str] = None


_DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


class KubernetesSettings(Strict):
    """An existing cluster. Without `kubeconfig` the ambient one (KUBECONFIG, ~/.kube/config) is used;
    `context` picks a context in it."""

    kubeconfig: Optional[SecretStr] = None
    context: Optional[str] = None
    namespace: str = "dify"
    create_namespace: bool = True
    storage_class: Optional[str] = None
    keep_data_on_destroy: bool = True
    network_policies: bool = True
    allow_self_hosted_data_in_production: bool = False
    entry: Literal["loadBalancer", "ingress"] = "loadBalancer"
    load_balancer: LoadBalancerSettings = Field(default_factory=LoadBalancerSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    tls: Optional[KubernetesTlsSettings] = None

    @field_validator("namespace")
    @classmethod
    def _namespace(cls, value: str) -> str:
        if not _DNS_LABEL.match(value):
            raise ValueError("give a namespace of 1-63 lower-case letters, digits and hyphens")
        return value

    @field_validator("storage_class")
    @classmethod
    def _storage_class(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _HOSTNAME.match(value):
            raise ValueError("give the name of a StorageClass in the cluster, e.g. gp3 or alicloud-disk-essd")
        return value

    @model_validator(mode="after")
    def _one_tls(self) -> "KubernetesSettings":
        if self.entry == "ingress" and self.load_balancer.certificate is not None:
            raise ValueError(
                "kubernetes.loadBalancer.certificate applies to entry loadBalancer; with entry ingress "
                "use kubernetes.ingress.tlsSecret or kubernetes.tls"
            )
        if self.tls is not None and self.load_balancer.certificate is not None:
            raise ValueError(
                "kubernetes.tls and kubernetes.loadBalancer.certificate both terminate TLS; set only one"
            )
        if self.tls is not None and self.ingress.tls_secret is not None:
            raise ValueError("kubernetes.tls and kubernetes.ingress.tlsSecret both give the certificate; set only one")
        return self

    @property
    def tls_enabled(self) -> bool:
        return (
            self.tls is not None
            or (self.entry == "loadBalancer" and self.load_balancer.certificate is not None)
            or (self.entry == "ingress" and self.ingress.tls_secret is not None)
        )


class StackConfig(Strict):
    target: Target = "docker"
    size: Size = "dev"
    domain: Optional[str] = None
    # The cloud target's region in one flat key, the form `pulumi new` can set; it becomes
    # `aws.region` or `alicloud.region` (see _region_into_section). Ignored on docker and kubernetes.
    region: Optional[str] = None
    dify: DifySettings = Field(default_factory=DifySettings)
    registry: RegistrySettings = Field(default_factory=RegistrySettings)
    postgres: PostgresSettings = Field(default_factory=PostgresSettings)
    redis: RedisSettings = Field(default_factory=RedisSettings)
    object_storage: ObjectStorageSettings = Field(default_factory=ObjectStorageSettings)
    docker: DockerSettings = Field(default_factory=DockerSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    aws: Optional[AwsSettings] = None
    alicloud: Optional[AlicloudSettings] = None

    _domain = field_validator("domain")(lambda cls, v: None if v is None else _hostname(v))

    @model_validator(mode="before")
    @classmethod
    def _region_into_section(cls, data: object) -> object:
        if not isinstance(data, dict) or not data.get("region") or data.get("target") not in ("aws", "alicloud"):
            return data
        cloud, region = data["target"], data["region"]
        section = data.get(cloud) or {}
        if not isinstance(section, dict):
            return data
        if section.get("region") not in (None, region):
            raise ValueError(f"`region` and `{cloud}.region` name different regions; set only one of them")
        return {**data, cloud: {**section, "region": region}}

    @model_validator(mode="after")
    def _target_fits(self) -> "StackConfig":
        if self.target in ("docker", "kubernetes"):
            for section in ("postgres", "redis", "objectStorage"):
                mode = getattr(self, "object_storage" if section == "objectStorage" else section).mode
                if mode == "managed":
                    raise ValueError(
                        f"{section}.mode managed needs a cloud target (aws or alicloud); "
                        f"on {self.target} use self-hosted or external"
                    )
        if self.target == "docker" and self.size != "dev":
            raise ValueError(
                f"size {self.size} sizes a cluster; the docker target runs one of each service. "
                "Remove `size` or pick a cluster target (kubernetes, aws, alicloud)"
            )
        if self.target in CLUSTER_TARGETS and self.size == "production":
            self_hosted = [section for section, settings in
                           (("postgres", self.postgres), ("redis", self.redis), ("objectStorage", self.object_storage))
                           if settings.mode == "self-hosted"]
            if self_hosted and not self.kubernetes.allow_self_hosted_data_in_production:
                keys = ", ".join(f"{s}.mode" for s in self_hosted)
                raise ValueError(
                    f"{keys}: self-hosted data services run as single pods, for dev and small installs; "
                    "size production needs managed or external ones. To run them anyway set "
                    "kubernetes.allowSelfHostedDataInProduction true"
                )
        if (self.target in CLUSTER_TARGETS and self.kubernetes.entry == "ingress"
                and self.kubernetes.tls_enabled and self.domain is None):
            raise ValueError("kubernetes.entry ingress with TLS needs `domain` (the host name on the certificate)")
        if self.target == "aws" and self.aws is None:
            raise ValueError("target aws needs a region: set `region` (or the `aws` section, at least aws.region)")
        if self.target == "alicloud" and self.alicloud is None:
            raise ValueError(
                "target alicloud needs a region: set `region` (or the `alicloud` section, at least alicloud.region)"
            )
        return self
