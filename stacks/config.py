"""The stack's configuration: one strict model, read from Pulumi config.

Every key is written in Pulumi.<stack>.yaml under the project's namespace, in camelCase,
e.g. `dify-deploy:postgres: {mode: external, host: ...}` or, on the command line,
`pulumi config set --path postgres.host db.example.com`.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import replace
from typing import Annotated, Any, Literal, Optional, Union

import yaml
from pydantic import BaseModel, Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic.alias_generators import to_camel

from components.dify.releases import DEFAULT_VERSION, FEATURES, RELEASES, Release, nearest_known
from stacks import rules
from stacks.rules import KeyedError, KeyedErrors, NonEmpty, NonEmptyText, SecretText, Text
from stacks.settings_alicloud import AlicloudSettings
from stacks.settings_aws import AwsSettings
from stacks.settings_edge import EdgeSettings
from stacks.settings_nginx import NginxSettings
from stacks.settings_scheduling import PriorityClassSettings, WorkersSettings
from stacks.settings_ops import MonitoringSettings, RestorePointSettings, SelfHostedSettings, VectorStoreSettings
from stacks.settings_tls import DockerTlsSettings, acme_email, acme_server, directory, http01_domain_problem
from stacks.strict import Strict

# `kubernetes` (an existing cluster) is listed first so that messages naming the original three
# targets keep their wording.
Target = Literal["kubernetes", "docker", "aws", "alicloud"]
Size = Literal["dev", "small", "production"]
CLUSTER_TARGETS = ("kubernetes", "aws", "alicloud")
DataMode = Literal["self-hosted", "managed", "external"]
DifyService = Literal["api", "worker", "beat", "web", "sandbox", "pluginDaemon", "ssrfProxy", "nginx",
                      "apiWebsocket", "agentBackend", "localSandbox", "agentSsrfProxy"]

_HOSTNAME = rules.HOSTNAME
_TAG = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# nginx's size grammar (ngx_parse_offset): digits and an optional k/m/g; the value must fit in off_t.
_SIZE = re.compile(r"^([0-9]+)([kKmMgG]?)$")
_SIZE_SCALE = {"": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3}
_MAX_OFF_T = 2 ** 63 - 1
# Names that hold credentials by convention; their values must come from `pulumi config set --secret`.
CREDENTIAL_NAME = re.compile(r"(_KEY|_SECRET|_TOKEN)$|PASSWORD", re.IGNORECASE)

# Sections the loader found secret (Pulumi marks a whole top-level key secret when any value in it is).
SECRET_SECTIONS = "secret_sections"


def _hostname(value: str) -> str:
    return rules.hostname(value)


def nginx_size_bytes(value: str) -> int:
    match = _SIZE.match(value)
    if not match:
        raise ValueError("give an nginx size such as 100M or 1G (digits and an optional k, m or g)")
    number, unit = int(match.group(1)), match.group(2).lower()
    if number > _MAX_OFF_T // _SIZE_SCALE[unit]:
        raise ValueError(f"{value} is larger than nginx can represent; give a size such as 100M or 1G")
    return number * _SIZE_SCALE[unit]


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
    request_body_limit: Text = "100M"
    pip_mirror_url: Optional[str] = None
    # A value is a SecretStr when it came from a secret config value (see _secret_values).
    extra_env: dict[DifyService, dict[str, Annotated[Union[Text, SecretStr], Field(union_mode="left_to_right")]]] = \
        Field(default_factory=dict)

    _check_version = field_validator(
        "version", "sandbox_version", "plugin_daemon_version", "agent_backend_version", "local_sandbox_version"
    )(lambda cls, v: None if v is None else _image_tag(v))

    @field_validator("request_body_limit")
    @classmethod
    def _nginx_size(cls, value: str) -> str:
        nginx_size_bytes(value)
        return value

    @field_validator("pip_mirror_url")
    @classmethod
    def _url(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.http_url(value, "https://pypi.tuna.tsinghua.edu.cn/simple")

    @field_validator("extra_env", mode="before")
    @classmethod
    def _secret_values(cls, value: Any, info: ValidationInfo) -> Any:
        """Pulumi hands the program no secrecy below a top-level key: when `dify` holds any secure value
        the whole of it is secret, so every extra env value is treated as one. Otherwise a value whose
        name reads as a credential is refused, since it would land in plain pod specs and state."""
        if not isinstance(value, dict):
            return value
        secret = "dify" in ((info.context or {}).get(SECRET_SECTIONS) or ())
        out: dict[Any, Any] = {}
        for service, env in value.items():
            if not isinstance(env, dict):
                out[service] = env
                continue
            for name in env:
                if not isinstance(name, str) or not _ENV_NAME.match(name):
                    raise KeyedError(f"dify.extraEnv.{service}",
                                     f"{name!r} is not a valid environment variable name "
                                     "(letters, digits and '_', not starting with a digit)")
                if not secret and CREDENTIAL_NAME.search(name) and not isinstance(env[name], SecretStr):
                    raise KeyedError(
                        f"dify.extraEnv.{service}.{name}",
                        f"{name} reads as a credential and is given in plain text. Set it with "
                        f"`pulumi config set --secret --path dify.extraEnv.{service}.{name} <value>`")
            if secret:
                env = {k: SecretStr(text) if isinstance(text := rules.as_text(v), str) else v for k, v in env.items()}
            out[service] = env
        return out

    @model_validator(mode="after")
    def _body_fits_uploads(self) -> "DifySettings":
        limit = nginx_size_bytes(self.request_body_limit)
        if limit and limit < self.upload_file_size_limit_mb * 1024 ** 2:
            raise KeyedError(
                "dify.requestBodyLimit",
                f"{self.request_body_limit} is smaller than dify.uploadFileSizeLimitMb "
                f"({self.upload_file_size_limit_mb} MB): nginx would refuse uploads Dify accepts. Give at least "
                f"{self.upload_file_size_limit_mb}M, or lower dify.uploadFileSizeLimitMb")
        return self

    @model_validator(mode="after")
    def _release_known(self) -> "DifySettings":
        base = self._base
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
        if self.enabled("agent"):
            needed += ["agent_backend_version", "local_sandbox_version"]
        missing = [f"dify.{to_camel(n)}" for n in needed if getattr(self, n) is None]
        if missing:
            known = ", ".join(sorted(RELEASES))
            raise ValueError(
                f"Dify {self.version} is not a release known here (known: {known}); set {', '.join(missing)} "
                "to the tags upstream's docker/docker-compose.yaml pins at that release"
            )
        return self

    @property
    def _base(self) -> Release:
        """The table's entry for the version, or for an unknown one the known release before it."""
        return RELEASES.get(self.version) or nearest_known(self.version)

    def enabled(self, feature: str) -> bool:
        return feature in self._base.features and getattr(self.features, feature) is not False

    @property
    def release(self) -> Release:
        """The release to deploy: the table's entry with this stack's tag overrides and features. An
        unknown version keeps only the base's services and settings, never its tags."""
        base, known = self._base, self.version in RELEASES
        return replace(
            base,
            version=self.version,
            sandbox=self.sandbox_version or base.sandbox,
            plugin_daemon=self.plugin_daemon_version or base.plugin_daemon,
            agent_backend=self.agent_backend_version or (base.agent_backend if known else None),
            local_sandbox=self.local_sandbox_version or (base.local_sandbox if known else None),
            features=frozenset(f for f in FEATURES if self.enabled(f)),
            lts=base.lts and known,
        )


class RegistrySettings(Strict):
    """Where images come from. `mirror` replaces Docker Hub (e.g. docker.m.daocloud.io)."""

    mirror: Optional[str] = None

    @field_validator("mirror")
    @classmethod
    def _mirror(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.registry_mirror(value)


def _ignored(settings: BaseModel, section: str, fields: tuple[str, ...], why: str) -> None:
    """Input a mode does not read is refused rather than silently dropped."""
    given = [f for f in fields if f in settings.model_fields_set]
    if given:
        key = f"{section}.{to_camel(given[0])}"
        keys = ", ".join(f"{section}.{to_camel(f)}" for f in given)
        raise KeyedError(key, f"{keys}: {why}; remove {'it' if len(given) == 1 else 'them'} "
                              f"(`pulumi config rm --path {key}`) or set {section}.mode external")


class PostgresSettings(Strict):
    mode: DataMode = "self-hosted"
    host: Optional[NonEmpty] = None
    port: int = Field(default=5432, ge=1, le=65535)
    user: NonEmptyText = "dify"
    password: Optional[SecretText] = None
    database: NonEmptyText = "dify"
    plugin_database: NonEmptyText = "dify_plugin"
    ssl_mode: Literal["disable", "allow", "prefer", "require", "verify-ca", "verify-full"] = "disable"
    # PEM of the CA that signed the server's certificate, for sslMode verify-ca / verify-full.
    ca_certificate: Optional[str] = None
    # Self-hosted: the server's max_connections (default 300); external: the server's, to check Dify's
    # connection budget against it.
    max_connections: Optional[int] = Field(default=None, ge=10, le=100000, strict=True)

    _host = field_validator("host")(lambda cls, v: None if v is None else _hostname(v))

    @model_validator(mode="after")
    def _external(self) -> "PostgresSettings":
        _require_external(self, "postgres", ("host", "password"))
        for field in ("user", "database", "plugin_database"):
            try:
                rules.postgres_identifier(getattr(self, field), created_here=self.mode != "external")
            except ValueError as error:
                raise KeyedError(f"postgres.{to_camel(field)}", str(error)) from None
        if self.ssl_mode in ("verify-ca", "verify-full") and self.ca_certificate is None:
            raise KeyedError("postgres.caCertificate", f"postgres.sslMode {self.ssl_mode} verifies the server's certificate: set "
                             "postgres.caCertificate to the PEM of its CA (pulumi config set --path "
                             "postgres.caCertificate \"$(cat ca.pem)\")")
        if self.ca_certificate is not None and "BEGIN CERTIFICATE" not in self.ca_certificate:
            raise KeyedError("postgres.caCertificate", "postgres.caCertificate must be a PEM certificate (-----BEGIN CERTIFICATE-----)")
        if self.database == self.plugin_database:
            raise KeyedError("postgres.pluginDatabase", "postgres.pluginDatabase must differ from postgres.database")
        if self.mode != "external":
            _ignored(self, "postgres", ("password", "host", "port", "ca_certificate")
                     + (("max_connections",) if self.mode == "managed" else ()),
                     f"a {self.mode} PostgreSQL generates its own password and has its own address")
        return self


class RedisSettings(Strict):
    mode: DataMode = "self-hosted"
    host: Optional[NonEmpty] = None
    port: int = Field(default=6379, ge=1, le=65535)
    username: Optional[NonEmptyText] = None
    password: Optional[SecretText] = None
    use_tls: bool = False
    db: int = Field(default=0, ge=0, le=15)
    broker_db: int = Field(default=1, ge=0, le=15)
    agent_db: int = Field(default=2, ge=0, le=15)

    _host = field_validator("host")(lambda cls, v: None if v is None else _hostname(v))

    @model_validator(mode="after")
    def _external(self) -> "RedisSettings":
        _require_external(self, "redis", ("host", "password"))
        if self.db == self.broker_db:
            raise KeyedError("redis.brokerDb",
                             "redis.brokerDb must differ from redis.db (Celery and the cache share one server)")
        if self.agent_db in (self.db, self.broker_db):
            raise KeyedError("redis.agentDb", "redis.agentDb must differ from redis.db and redis.brokerDb (the agent "
                             "backend keeps its own keys in its own database)")
        if self.mode != "external":
            # A managed Redis may take useTls (Tair offers it); the target decides (StackConfig._data_modes).
            own = ("password", "username", "host", "port") + (("use_tls",) if self.mode == "self-hosted" else ())
            _ignored(self, "redis", own, f"a {self.mode} Redis generates its own password and has its own address")
        return self


class ObjectStorageSettings(Strict):
    mode: DataMode = "self-hosted"
    kind: Optional[Literal["s3", "oss", "s3-compatible"]] = None
    bucket: Optional[str] = None
    plugin_bucket: Optional[str] = None
    endpoint: Optional[str] = None
    region: Optional[NonEmpty] = None
    access_key: Optional[SecretText] = None
    secret_key: Optional[SecretText] = None
    use_workload_identity: bool = False

    @field_validator("endpoint")
    @classmethod
    def _endpoint(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        try:
            return rules.http_url(value, "https://s3.example.com")
        except ValueError as error:
            raise ValueError(f"give the endpoint as a URL: {error}") from None

    @model_validator(mode="after")
    def _external(self) -> "ObjectStorageSettings":
        for field in ("bucket", "plugin_bucket"):
            value = getattr(self, field)
            if value is not None:
                try:
                    rules.bucket_name(value, self.kind)
                except ValueError as error:
                    raise KeyedError(f"objectStorage.{to_camel(field)}", str(error)) from None
        if self.mode != "external":
            _ignored(self, "objectStorage", ("access_key", "secret_key", "endpoint", "region", "use_workload_identity"),
                     f"{self.mode} object storage has its own endpoint and credentials")
            return self
        _require_external(self, "objectStorage", ("kind", "bucket"))
        if self.kind in ("s3-compatible", "oss") and self.endpoint is None:
            raise KeyedError("objectStorage.endpoint", f"objectStorage.endpoint is required for kind {self.kind}")
        if self.kind == "oss" and self.region is None:
            raise KeyedError("objectStorage.region", "objectStorage.region is required for kind oss (e.g. cn-hangzhou)")
        if not self.use_workload_identity and (self.access_key is None or self.secret_key is None):
            raise KeyedError(
                "objectStorage.accessKey" if self.access_key is None else "objectStorage.secretKey",
                "objectStorage.accessKey and objectStorage.secretKey are required unless "
                "objectStorage.useWorkloadIdentity is true"
            )
        if self.use_workload_identity and (self.access_key is not None or self.secret_key is not None):
            raise KeyedError("objectStorage.useWorkloadIdentity",
                             "objectStorage.useWorkloadIdentity replaces objectStorage.accessKey/secretKey; "
                             "set one or the other")
        return self


def _require_external(settings: BaseModel, section: str, fields: tuple[str, ...]) -> None:
    if getattr(settings, "mode") != "external":
        return
    missing = [f for f in fields if getattr(settings, f) is None]
    if missing:
        keys = ", ".join(f"{section}.{to_camel(m)}" for m in missing)
        first = f"{section}.{to_camel(missing[0])}"
        secret = " --secret" if "SecretStr" in str(type(settings).model_fields[missing[0]].annotation) else ""
        raise KeyedError(first, f"mode external needs {keys}. "
                                f"Set it with `pulumi config set{secret} --path {first} <value>`")


_DOCKER_HOST = re.compile(r"^(unix|tcp|ssh|npipe)://(.+)$")


class DockerSettings(Strict):
    """The Docker host: local daemon by default, or ssh://user@host."""

    host: Optional[str] = None
    ssh_opts: list[Text] = Field(default_factory=list)
    http_port: int = Field(default=80, ge=1, le=65535)
    https_port: int = Field(default=443, ge=1, le=65535)
    bind_address: str = "0.0.0.0"
    tls: Optional[DockerTlsSettings] = None
    keep_volumes_on_destroy: bool = True
    network_pool: str = "10.213.0.0/16"

    @field_validator("network_pool")
    @classmethod
    def _pool(cls, value: str) -> str:
        network = rules.cidr(value, "10.213.0.0/16", strict=True)
        if not isinstance(network, ipaddress.IPv4Network) or network.prefixlen > 22:
            raise ValueError("give an IPv4 range of /22 or larger (each network takes a /28), e.g. 10.213.0.0/16")
        return value

    @field_validator("host")
    @classmethod
    def _host(cls, value: Optional[str]) -> Optional[str]:
        if value is None:
            return None
        hint = "give a Docker host URL: unix:///var/run/docker.sock, ssh://user@host or tcp://host:2376"
        match = _DOCKER_HOST.match(value)
        if not match or any(c.isspace() for c in value):
            raise ValueError(hint)
        if match.group(1) in ("tcp", "ssh"):
            netloc = match.group(2).split("/", 1)[0].rsplit("@", 1)[-1]
            try:
                rules.host_and_port(netloc)
            except ValueError as error:
                raise ValueError(f"{error}; {hint}") from None
        return value

    @field_validator("bind_address")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError("give an IP address of the host to listen on, e.g. 0.0.0.0 or 127.0.0.1") from None
        return value

    @model_validator(mode="after")
    def _ports(self) -> "DockerSettings":
        if self.tls is not None and self.http_port == self.https_port:
            raise KeyedError("docker.httpsPort",
                             f"docker.httpPort and docker.httpsPort are both {self.http_port}; with docker.tls both "
                             "are published on the host, so give them different ports")
        if self.tls is not None and self.tls.acme and self.tls.acme_server is None and self.http_port != 80:
            raise KeyedError("docker.httpPort",
                             f"docker.httpPort is {self.http_port}, but Let's Encrypt checks the HTTP-01 challenge on "
                             "port 80 of `domain`: publish nginx on 80 (remove docker.httpPort), or give the "
                             "certificate yourself")
        return self

    @property
    def host_name(self) -> str:
        """The name users reach the host by, when no domain is configured."""
        if self.host and self.host.startswith(("ssh://", "tcp://")):
            netloc = self.host.split("://", 1)[1].split("/", 1)[0]
            return netloc.rsplit("@", 1)[-1].split(":", 1)[0]
        return "localhost"


class KubernetesTlsSettings(Strict):
    """A certificate served by nginx (entry loadBalancer) or by the Ingress (entry ingress): PEM chain and key,
    both set with `pulumi config set --secret`."""

    certificate: SecretStr
    key: SecretStr

    @model_validator(mode="after")
    def _pem(self) -> "KubernetesTlsSettings":
        if "BEGIN CERTIFICATE" not in self.certificate.get_secret_value():
            raise KeyedError("kubernetes.tls.certificate", "kubernetes.tls.certificate must be a PEM certificate chain")
        if "PRIVATE KEY" not in self.key.get_secret_value():
            raise KeyedError("kubernetes.tls.key", "kubernetes.tls.key must be a PEM private key")
        return self


def _annotations(value: dict[str, str]) -> dict[str, str]:
    for key in value:
        rules.qualified_name(key, "service.beta.kubernetes.io/aws-load-balancer-scheme")
    return value


class LoadBalancerSettings(Strict):
    """The nginx Service of type LoadBalancer. `cloud` picks the annotations its controller reads
    (aws: an NLB through the AWS Load Balancer Controller; alicloud: a CLB through the CCM);
    `annotations` are added on top (and win). `certificate` (an ACM ARN or an Alibaba Cloud
    certificate ID) terminates TLS at the load balancer."""

    cloud: Literal["generic", "aws", "alicloud"] = "generic"
    annotations: dict[str, Text] = Field(default_factory=dict)
    certificate: Optional[NonEmpty] = None
    internal: bool = False
    source_ranges: list[str] = Field(default_factory=list)
    load_balancer_class: Optional[str] = None
    # false: `pulumi up` does not wait for the balancer's address (clusters without a load-balancer
    # implementation never give one); the entryAddress output then stays empty.
    wait_for_address: bool = True

    _check_annotations = field_validator("annotations")(lambda cls, v: _annotations(v))

    @field_validator("load_balancer_class")
    @classmethod
    def _class(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.qualified_name(value, "service.k8s.aws/nlb")

    @field_validator("source_ranges")
    @classmethod
    def _cidrs(cls, value: list[str]) -> list[str]:
        for cidr in value:
            rules.cidr(cidr)
        return value

    @model_validator(mode="after")
    def _certificate(self) -> "LoadBalancerSettings":
        if self.certificate is None:
            return self
        if self.cloud == "generic":
            raise KeyedError(
                "kubernetes.loadBalancer.certificate",
                "kubernetes.loadBalancer.certificate needs kubernetes.loadBalancer.cloud aws or alicloud; "
                "for another controller put its TLS annotations in kubernetes.loadBalancer.annotations"
            )
        if self.cloud == "aws" and not re.match(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]+$",
                                                self.certificate):
            raise KeyedError(
                "kubernetes.loadBalancer.certificate",
                "kubernetes.loadBalancer.certificate must be an ACM certificate ARN "
                "(arn:aws:acm:<region>:<account>:certificate/<id>)"
            )
        return self


class IngressSettings(Strict):
    """An Ingress in front of nginx (`kubernetes.entry: ingress`). `tlsSecret` names an existing TLS
    Secret in the namespace. cert-manager (installed in the cluster) can issue the certificate instead:
    `clusterIssuer` names an existing ClusterIssuer, or `acmeEmail` has the program create a Let's Encrypt
    ClusterIssuer that answers HTTP-01 through this Ingress's class."""

    class_name: Optional[str] = None
    annotations: dict[str, Text] = Field(default_factory=dict)
    tls_secret: Optional[str] = None
    cluster_issuer: Optional[str] = None
    acme_email: Optional[str] = None
    acme_staging: bool = False
    acme_server: Optional[str] = None

    _check_annotations = field_validator("annotations")(lambda cls, v: _annotations(v))
    _email = field_validator("acme_email")(lambda cls, v: acme_email(v))
    _server = field_validator("acme_server")(lambda cls, v: acme_server(v))

    @field_validator("cluster_issuer")
    @classmethod
    def _issuer(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.dns_subdomain(value, "ClusterIssuer, e.g. letsencrypt-prod")

    @model_validator(mode="after")
    def _one_issuer(self) -> "IngressSettings":
        if self.cluster_issuer is not None and self.acme_email is not None:
            raise KeyedError("kubernetes.ingress.acmeEmail", "kubernetes.ingress.clusterIssuer names an existing "
                             "issuer and kubernetes.ingress.acmeEmail creates one; set only one")
        if self.acme_email is None:
            extra = [k for k, on in (("acmeStaging", self.acme_staging), ("acmeServer", self.acme_server)) if on]
            if extra:
                raise KeyedError(f"kubernetes.ingress.{extra[0]}", f"kubernetes.ingress.{extra[0]} shapes the "
                                 "ClusterIssuer that kubernetes.ingress.acmeEmail creates; set "
                                 "kubernetes.ingress.acmeEmail or remove the key")
        if self.acme_staging and self.acme_server is not None:
            raise KeyedError("kubernetes.ingress.acmeStaging", "kubernetes.ingress.acmeServer names the directory; "
                             "kubernetes.ingress.acmeStaging picks Let's Encrypt's staging one: set only one")
        if self.cert_manager and self.tls_secret is not None:
            raise KeyedError(self.cert_manager_key, f"{self.cert_manager_key} has cert-manager issue the "
                             "certificate and kubernetes.ingress.tlsSecret gives one; keep only one of them")
        return self

    @property
    def cert_manager(self) -> bool:
        return self.cluster_issuer is not None or self.acme_email is not None

    @property
    def cert_manager_key(self) -> str:
        return "kubernetes.ingress." + ("clusterIssuer" if self.cluster_issuer is not None else "acmeEmail")

    @property
    def directory(self) -> str:
        return directory(self.acme_staging, self.acme_server)

    @field_validator("class_name")
    @classmethod
    def _class_name(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.dns_subdomain(value, "IngressClass, e.g. nginx or alb")

    @field_validator("tls_secret")
    @classmethod
    def _secret_name(cls, value: Optional[str]) -> Optional[str]:
        return None if value is None else rules.dns_subdomain(value, "TLS Secret in the namespace, e.g. dify-tls")


_DNS_LABEL = rules.DNS_LABEL


def kubeconfig_contexts(text: str) -> list[str]:
    """The context names of a kubeconfig; raises ValueError (never quoting the content) if it is none."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        document = None
    if not isinstance(document, dict) or document.get("kind", "Config") != "Config" or not any(
            isinstance(document.get(k), list) for k in ("clusters", "contexts", "users")):
        raise ValueError("is not a kubeconfig (a YAML document of kind Config with clusters, users and contexts); "
                         "give the file's content: `pulumi config set --secret --path kubernetes.kubeconfig "
                         "\"$(cat ~/.kube/config)\"`")
    return [c["name"] for c in document.get("contexts") or [] if isinstance(c, dict) and isinstance(c.get("name"), str)]


def _ipv4_cidrs(value: list[str]) -> list[str]:
    for text in value:
        if not isinstance(rules.cidr(text, "10.0.0.0/8", strict=True), ipaddress.IPv4Network):
            raise ValueError(f"{text}: give IPv4 ranges (NetworkPolicy ipBlocks here are IPv4)")
    return value


class DataCidrs(Strict):
    """Address ranges of external data services (NetworkPolicies allow them explicitly, on their port)."""

    postgres: list[str] = Field(default_factory=list)
    redis: list[str] = Field(default_factory=list)
    object_storage: list[str] = Field(default_factory=list)

    _cidrs = field_validator("postgres", "redis", "object_storage")(lambda cls, v: _ipv4_cidrs(v))


class IsolationSettings(Strict):
    """What the NetworkPolicies need to know about an existing cluster's network (target kubernetes;
    the cloud targets know their own). `clusterCidrs`: the pod, service and node ranges, never counted
    as internet (the defaults cover every private and shared range); `dnsAddresses`: DNS servers pods
    use besides the CoreDNS pods in kube-system (NodeLocal DNSCache's 169.254.20.10 by default)."""

    cluster_cidrs: list[str] = Field(default_factory=lambda: ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16",
                                                              "100.64.0.0/10"])
    dns_addresses: list[str] = Field(default_factory=lambda: ["169.254.20.10/32"])
    data_cidrs: DataCidrs = Field(default_factory=DataCidrs)

    _cidrs = field_validator("cluster_cidrs", "dns_addresses")(lambda cls, v: _ipv4_cidrs(v))


class KubernetesSettings(Strict):
    """An existing cluster. Without `kubeconfig` the ambient one (KUBECONFIG, ~/.kube/config) is used;
    `context` picks a context in it."""

    kubeconfig: Optional[SecretStr] = None
    context: Optional[NonEmpty] = None
    namespace: Text = "dify"
    # Where the workloads that need Pod Security baseline run (the code sandboxes); `<namespace>-sandbox`.
    sandbox_namespace: Optional[Text] = None
    cluster_domain: str = "cluster.local"
    create_namespace: bool = True
    storage_class: Optional[str] = None
    # The namespace of a KEDA the cluster runs: the worker then scales on its Celery queues' backlog.
    keda_namespace: Optional[Text] = None
    # A larger `size` grows the data services' claims in place; false keeps them at the size they have
    # (for storage classes that cannot expand volumes).
    grow_volumes: bool = True
    keep_data_on_destroy: bool = True
    network_policies: bool = True
    isolation: IsolationSettings = Field(default_factory=IsolationSettings)
    allow_self_hosted_data_in_production: bool = False
    entry: Literal["loadBalancer", "ingress", "nodePort", "clusterIP"] = "loadBalancer"
    # entry nodePort: a fixed port in the cluster's NodePort range (default 30000-32767); unset lets it pick.
    node_port: Optional[int] = Field(default=None, ge=1, le=65535, strict=True)
    load_balancer: LoadBalancerSettings = Field(default_factory=LoadBalancerSettings)
    ingress: IngressSettings = Field(default_factory=IngressSettings)
    tls: Optional[KubernetesTlsSettings] = None
    priority_classes: PriorityClassSettings = Field(default_factory=PriorityClassSettings)

    @field_validator("cluster_domain")
    @classmethod
    def _cluster_domain(cls, value: str) -> str:
        if not _HOSTNAME.match(value):
            raise ValueError("give the cluster's DNS domain, e.g. cluster.local")
        return value

    @field_validator("namespace", "sandbox_namespace")
    @classmethod
    def _namespace(cls, value: Optional[str]) -> Optional[str]:
        if value is not None and not _DNS_LABEL.match(value):
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
        if self.kubeconfig is not None:
            try:
                contexts = kubeconfig_contexts(self.kubeconfig.get_secret_value())
            except ValueError as error:
                raise KeyedError("kubernetes.kubeconfig", str(error)) from None
            if self.context is not None and self.context not in contexts:
                raise KeyedError("kubernetes.context",
                                 f"the kubeconfig has no context {self.context!r} (it has: "
                                 f"{', '.join(contexts) or 'none'}); give one of those")
        if self.node_port is not None and self.entry != "nodePort":
            raise KeyedError("kubernetes.nodePort", "kubernetes.nodePort applies to entry nodePort; set "
                             "kubernetes.entry nodePort or remove the key")
        if self.entry == "ingress" and self.load_balancer.certificate is not None:
            raise KeyedError(
                "kubernetes.loadBalancer.certificate",
                "kubernetes.loadBalancer.certificate applies to entry loadBalancer; with entry ingress "
                "use kubernetes.ingress.tlsSecret or kubernetes.tls"
            )
        if self.tls is not None and self.load_balancer.certificate is not None:
            raise KeyedError(
                "kubernetes.tls",
                "kubernetes.tls and kubernetes.loadBalancer.certificate both terminate TLS; set only one"
            )
        if self.tls is not None and self.ingress.tls_secret is not None:
            raise KeyedError("kubernetes.tls",
                             "kubernetes.tls and kubernetes.ingress.tlsSecret both give the certificate; set only one")
        if self.ingress.cert_manager and self.entry != "ingress":
            raise KeyedError(self.ingress.cert_manager_key, f"{self.ingress.cert_manager_key} has cert-manager "
                             "issue the Ingress's certificate; set kubernetes.entry ingress, or remove the key")
        if self.ingress.cert_manager and self.tls is not None:
            raise KeyedError("kubernetes.tls", f"kubernetes.tls gives the certificate and "
                             f"{self.ingress.cert_manager_key} has cert-manager issue one; keep only one of them")
        return self

    @property
    def tls_enabled(self) -> bool:
        return (
            self.tls is not None
            or (self.entry == "loadBalancer" and self.load_balancer.certificate is not None)
            or (self.entry == "ingress" and (self.ingress.tls_secret is not None or self.ingress.cert_manager))
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
    nginx: NginxSettings = Field(default_factory=NginxSettings)
    workers: WorkersSettings = Field(default_factory=WorkersSettings)
    kubernetes: KubernetesSettings = Field(default_factory=KubernetesSettings)
    monitoring: MonitoringSettings = Field(default_factory=MonitoringSettings)
    restore_points: RestorePointSettings = Field(default_factory=RestorePointSettings)
    self_hosted: SelfHostedSettings = Field(default_factory=SelfHostedSettings)
    vector_store: VectorStoreSettings = Field(default_factory=VectorStoreSettings)
    aws: Optional[AwsSettings] = None
    alicloud: Optional[AlicloudSettings] = None
    edge: EdgeSettings = Field(default_factory=EdgeSettings)

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
            raise KeyedError("region", f"`region` and `{cloud}.region` name different regions; set only one of them")
        return {**data, cloud: {**section, "region": region}}

    @model_validator(mode="before")
    @classmethod
    def _managed_on_clouds(cls, data: object) -> object:
        """A cloud target's data services are its managed ones unless a mode says otherwise: in-cluster
        data (`self-hosted`) is asked for, never a default."""
        if not isinstance(data, dict) or data.get("target") not in ("aws", "alicloud"):
            return data
        out = dict(data)
        for section in ("postgres", "redis", "objectStorage"):
            given = out.get(section)
            if given is None:
                out[section] = {"mode": "managed"}
            elif isinstance(given, dict) and "mode" not in given:
                out[section] = {**given, "mode": "managed"}
        return out

    @model_validator(mode="after")
    def _target_fits(self) -> "StackConfig":
        problems = [problem for check in (self._data_modes, self._sections_of_other_targets, self._connections,
                                          self._pgvector,
                                          lambda: self.monitoring.target_problems(self.target),
                                          lambda: self.workers.problems(self.target, self.size,
                                                                        self.dify.version in RELEASES),
                                          lambda: self.vector_store.problems(self.target),
                                          lambda: self.edge.problems(self))
                    for problem in check()]
        if problems:
            raise problems[0] if len(problems) == 1 else KeyedErrors(problems)
        return self

    def _data_modes(self) -> list[KeyedError]:
        problems: list[KeyedError] = []
        if self.target in ("docker", "kubernetes"):
            for section in ("postgres", "redis", "objectStorage"):
                mode = getattr(self, "object_storage" if section == "objectStorage" else section).mode
                if mode == "managed":
                    problems.append(KeyedError(
                        f"{section}.mode",
                        f"{section}.mode managed needs a cloud target (aws or alicloud); "
                        f"on {self.target} use self-hosted or external"
                    ))
        if (self.target == "aws" and self.redis.mode == "managed" and "use_tls" in self.redis.model_fields_set
                and not self.redis.use_tls):
            problems.append(KeyedError("redis.useTls", "ElastiCache here always requires TLS (with AUTH); remove "
                                                       "redis.useTls"))
        problems += self._isolation()
        if self.target == "docker" and self.size != "dev":
            problems.append(KeyedError(
                "size",
                f"size {self.size} sizes a cluster; the docker target runs one of each service. "
                "Remove `size` or pick a cluster target (kubernetes, aws, alicloud)"
            ))
        if self.self_hosted.high_availability and self.target == "docker":
            problems.append(KeyedError("selfHosted.highAvailability", (
                "selfHosted.highAvailability runs replicated engines on a cluster (targets kubernetes, aws, "
                "alicloud); the docker target runs one of each service. Remove selfHosted.highAvailability")))
        if self.self_hosted.high_availability and self.target in ("aws", "alicloud") and not any(
                s.mode == "self-hosted" for s in (self.postgres, self.redis, self.object_storage)):
            problems.append(KeyedError("selfHosted.highAvailability", (
                f"selfHosted.highAvailability replicates the self-hosted data services, and every one of target "
                f"{self.target}'s is managed or external; set postgres.mode, redis.mode or objectStorage.mode "
                "self-hosted, or remove selfHosted.highAvailability")))
        if self.target in CLUSTER_TARGETS and self.size == "production":
            # The services selfHosted.highAvailability replicates survive a node or zone loss.
            replicated = ("postgres", "redis", "objectStorage") if self.self_hosted.high_availability else ()
            self_hosted = [section for section, settings in
                           (("postgres", self.postgres), ("redis", self.redis), ("objectStorage", self.object_storage))
                           if settings.mode == "self-hosted" and section not in replicated]
            if self_hosted and not self.kubernetes.allow_self_hosted_data_in_production:
                keys = ", ".join(f"{s}.mode" for s in self_hosted)
                problems.append(KeyedError(
                    f"{self_hosted[0]}.mode",
                    f"{keys}: self-hosted data services run as single pods, for dev and small installs; "
                    "size production needs managed or external ones"
                    + ", or selfHosted.highAvailability true (replicated engines)"
                    + ". To run them anyway set kubernetes.allowSelfHostedDataInProduction true"
                ))
        if (self.target == "kubernetes" and self.size == "production" and self.self_hosted.high_availability
                and self.object_storage.mode == "self-hosted" and len(self.self_hosted.object_store_zones) < 2):
            problems.append(KeyedError("selfHosted.objectStoreZones", (
                "size production keeps a copy of every object outside any one zone: list the zones of your nodes "
                "(their topology.kubernetes.io/zone), e.g. `pulumi config set --path "
                "'selfHosted.objectStoreZones[0]' eu-west-1a` and so on for two or more zones")))
        if (self.target in CLUSTER_TARGETS and self.kubernetes.entry == "ingress"
                and self.kubernetes.tls_enabled and self.domain is None):
            problems.append(KeyedError("domain",
                             "kubernetes.entry ingress with TLS needs `domain` (the host name on the certificate)"))
        problems += self._acme()
        if self.target == "aws" and self.aws is None:
            problems.append(KeyedError("aws.region",
                             "target aws needs a region: set `region` (or the `aws` section, at least aws.region)"))
        if self.target == "alicloud" and self.alicloud is None:
            problems.append(KeyedError(
                "alicloud.region",
                "target alicloud needs a region: set `region` (or the `alicloud` section, at least alicloud.region)"
            ))
        return problems

    def _acme(self) -> list[KeyedError]:
        tls, ingress = self.docker.tls, self.kubernetes.ingress
        if self.target == "docker" and tls is not None and tls.acme:
            found = http01_domain_problem(self.domain, "docker.tls.acmeEmail")
            return [found] if found else []
        # An existing ClusterIssuer may answer other challenges (or be a private CA); without `domain` the
        # ingress check in _data_modes speaks.
        if self.target == "kubernetes" and ingress.acme_email is not None and self.domain is not None:
            found = http01_domain_problem(self.domain, "kubernetes.ingress.acmeEmail")
            return [found] if found else []
        return []

    @property
    def pgvector_database(self) -> Optional[str]:
        """pgvector's own database on Dify's server, or None when the vectors live in postgres.database."""
        chosen = self.vector_store.pgvector.database if self.vector_store.kind == "pgvector" else None
        return chosen if chosen != self.postgres.database else None

    def _pgvector(self) -> list[KeyedError]:
        chosen = self.vector_store.pgvector.database
        if chosen is None or self.vector_store.kind != "pgvector":
            return []
        key = "vectorStore.pgvector.database"
        try:
            rules.postgres_identifier(chosen, created_here=self.postgres.mode != "external")
        except ValueError as error:
            return [KeyedError(key, str(error))]
        if chosen == self.postgres.plugin_database:
            return [KeyedError(key, f"{key} must differ from postgres.pluginDatabase ({chosen}): that one is the "
                                    "plugin daemon's; give a database of its own, e.g. dify_vectors")]
        return []

    def _connections(self) -> list[KeyedError]:
        if self.target == "aws" and self.aws is None:
            return []
        from stacks import budget

        found = budget.problem(self)
        return [KeyedError(*found)] if found else []
    def _isolation(self) -> list[KeyedError]:
        k = self.kubernetes
        if self.target in ("aws", "alicloud") and "isolation" in k.model_fields_set:
            return [KeyedError("kubernetes.isolation", f"target {self.target} knows its VPC, pod and service "
                                                       "ranges and its DNS; remove kubernetes.isolation")]
        if self.target != "kubernetes" or not k.network_policies:
            return []
        problems = []
        for section, settings, cidrs in (("postgres", self.postgres, k.isolation.data_cidrs.postgres),
                                         ("redis", self.redis, k.isolation.data_cidrs.redis)):
            if settings.mode == "external" and not cidrs and not _is_ip(settings.host):
                problems.append(KeyedError(
                    f"kubernetes.isolation.dataCidrs.{section}",
                    f"{section}.host {settings.host} is a name: NetworkPolicies allow only the addresses of "
                    f"external services; give its address range, e.g. `pulumi config set --path "
                    f"'kubernetes.isolation.dataCidrs.{section}[0]' 10.0.12.0/24`"))
        return problems

    def _sections_of_other_targets(self) -> list[KeyedError]:
        given = {
            "docker": bool(self.docker.model_fields_set),
            "kubernetes": bool(self.kubernetes.model_fields_set),
            "aws": self.aws is not None,
            "alicloud": self.alicloud is not None,
        }
        applies = {"docker": ("docker",), "kubernetes": ("kubernetes",), "aws": ("kubernetes", "aws"),
                   "alicloud": ("kubernetes", "alicloud")}[self.target]
        return [
            KeyedError(section, f"the `{section}` section applies to target "
                                f"{'aws, alicloud or kubernetes' if section == 'kubernetes' else section}, "
                                f"not {self.target}; remove it (`pulumi config rm {section}`) or set "
                                "`target` to the one you mean")
            for section, present in given.items() if present and section not in applies
        ]


def _is_ip(host: Optional[str]) -> bool:
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True
