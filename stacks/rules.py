"""Value types and name grammars shared by the config sections: each says what the receiving system
(PostgreSQL, S3/OSS, Kubernetes, a registry, a cloud API) would refuse, so the config model refuses it first."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Optional
from urllib.parse import urlsplit

from pydantic import BeforeValidator, SecretStr


class KeyedError(ValueError):
    """A problem a validator that sees several keys pins on one of them. `key` is the full
    camelCase path (`aws.certificateArn`), or a path relative to the section that raised it."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class KeyedErrors(ValueError):
    """Several KeyedErrors found by one validator, reported together."""

    def __init__(self, errors: list[KeyedError]) -> None:
        super().__init__("; ".join(f"{e.key}: {e}" for e in errors))
        self.errors = errors


def as_text(value: Any) -> Any:
    # `pulumi config set --path` stores `true`/`false` as booleans and integers as numbers.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        raise ValueError("a number here would lose its spelling (1.30 reads as 1.3); write it as a string, quoted "
                         "in Pulumi.<stack>.yaml, or with `pulumi config set --type string`")
    return value


# A string where `4` or `true` (what `--path` writes for them) is as good as "4" or "true".
Text = Annotated[str, BeforeValidator(as_text)]
SecretText = Annotated[SecretStr, BeforeValidator(as_text)]


def _not_blank(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        raise ValueError("is empty; give a value or remove the key")
    return value


NonEmpty = Annotated[str, BeforeValidator(_not_blank)]
NonEmptyText = Annotated[str, BeforeValidator(_not_blank), BeforeValidator(as_text)]

# -- host names, addresses and URLs --------------------------------------------------------------------

HOSTNAME = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
DNS_LABEL = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")


def hostname(value: str, allow_ip: bool = True) -> str:
    """A DNS host name or an IP address. A name whose last label is all digits reads as an address
    to every resolver, so it must be one."""
    if not value:
        raise ValueError("is empty; give a host name such as dify.example.com, or remove the key")
    if any(c.isspace() for c in value):
        raise ValueError("contains spaces; give a host name such as dify.example.com")
    value = value.lower().rstrip(".") if value != "." else value
    if value.startswith(("http://", "https://")) or "/" in value:
        raise ValueError("give a bare host name such as dify.example.com, without scheme or path")
    try:
        address = ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        address = None
    if address is not None:
        if not allow_ip:
            raise ValueError(f"{value} is an IP address; give a DNS name")
        return str(address)
    if not HOSTNAME.match(value):
        raise ValueError(f"{value!r} is not a valid DNS host name (letters, digits, hyphens and dots)")
    if value.rsplit(".", 1)[-1].isdigit():
        raise ValueError(f"{value} looks like an IP address but is not one; give a real address or a DNS name")
    return value


def port_number(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ValueError(f"port {text!r} is not a number from 1 to 65535")
    return int(text)


def host_and_port(netloc: str) -> tuple[str, Optional[int]]:
    """`host`, `host:port`, `[v6]:port`, with the host checked and the port in range."""
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else (None if not rest else "x")
    elif netloc.count(":") == 1:
        host, port = netloc.split(":")
    else:
        host, port = netloc, None
    if not host:
        raise ValueError("has no host")
    return hostname(host), None if port is None else port_number(port)


def http_url(value: str, example: str) -> str:
    if any(c.isspace() for c in value):
        raise ValueError(f"contains spaces; give a URL such as {example}")
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"give a full URL with scheme and host, such as {example}")
    netloc = parts.netloc.rsplit("@", 1)[-1]
    try:
        host_and_port(netloc)
    except ValueError as error:
        raise ValueError(f"{error} (in the URL's host part); give a URL such as {example}") from None
    return value


# -- names other systems define ------------------------------------------------------------------------

def postgres_identifier(value: str, created_here: bool) -> str:
    """Databases and roles this program creates are plain lower-case identifiers (they appear unquoted in
    health-check commands and cloud APIs); an existing server's may also hold upper case and hyphens."""
    if len(value.encode()) > 63:
        raise ValueError("PostgreSQL identifiers are at most 63 bytes")
    grammar = r"^[a-z_][a-z0-9_]*$" if created_here else r"^[A-Za-z_][A-Za-z0-9_$-]*$"
    if not re.match(grammar, value):
        allowed = "lower-case letters, digits and underscores, starting with a letter or underscore" if created_here \
            else "letters, digits, '_', '$' and '-', starting with a letter or underscore"
        raise ValueError(f"{value!r} is not a PostgreSQL identifier: use {allowed}")
    return value


_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def bucket_name(value: str, kind: Optional[str]) -> str:
    """S3's rules (and S3-compatible stores'), or OSS's, which also forbid dots."""
    if kind == "oss":
        if not re.match(r"^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$", value):
            raise ValueError("OSS bucket names are 3-63 lower-case letters, digits and hyphens, "
                             "starting and ending with a letter or digit")
        return value
    if not re.match(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$", value):
        raise ValueError("bucket names are 3-63 lower-case letters, digits, dots and hyphens, "
                         "starting and ending with a letter or digit")
    if ".." in value or ".-" in value or "-." in value:
        raise ValueError("bucket names may not hold two adjacent dots or a dot next to a hyphen")
    if re.fullmatch(r"[0-9]+(\.[0-9]+){3}", value):
        raise ValueError("bucket names may not look like an IP address")
    if value.startswith(_S3_RESERVED_PREFIXES) or value.endswith(_S3_RESERVED_SUFFIXES):
        raise ValueError("this bucket name uses a prefix or suffix S3 reserves (xn--, sthree-, -s3alias, ...)")
    return value


def dns_subdomain(value: str, what: str) -> str:
    """A Kubernetes object name (DNS-1123 subdomain): Secrets, IngressClasses, StorageClasses."""
    if not HOSTNAME.match(value):
        raise ValueError(f"give the name of a {what}: up to 253 lower-case letters, digits, '-' and '.', "
                         "starting and ending with a letter or digit")
    return value


_QUALIFIED = re.compile(r"^([a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?/)?[A-Za-z0-9]([A-Za-z0-9_.-]{0,61}[A-Za-z0-9])?$")


def qualified_name(value: str, example: str) -> str:
    """A Kubernetes qualified name (`prefix/name`), e.g. a loadBalancerClass or an annotation key."""
    if not _QUALIFIED.match(value):
        raise ValueError(f"{value!r} is not a Kubernetes qualified name such as {example}")
    return value


_PATH_COMPONENT = re.compile(r"^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*$")


def registry_mirror(value: str) -> str:
    """A registry host with optional port and path, in the grammar of image references (lower case)."""
    if any(c.isspace() for c in value):
        raise ValueError("contains spaces; give a registry host such as docker.m.daocloud.io")
    if "://" in value:
        raise ValueError("give a registry host and optional path, without scheme, e.g. docker.m.daocloud.io")
    value = value.rstrip("/")
    if value != value.lower():
        raise ValueError("image references are lower case; give the registry host in lower case")
    host, _, path = value.partition("/")
    try:
        host_and_port(host)
    except ValueError as error:
        raise ValueError(f"{error}; give a registry host such as docker.m.daocloud.io") from None
    for component in filter(None, path.split("/")) if path else ():
        if not _PATH_COMPONENT.match(component):
            raise ValueError(f"{component!r} is not a valid image path component (lower-case letters and digits "
                             "joined by '.', '_', '__' or '-')")
    if path and "//" in path:
        raise ValueError("the registry path holds an empty component ('//')")
    return value


# -- instance families: a format check per product family, not a catalog ----------------------------------

_EC2_SIZE = r"(nano|micro|small|medium|large|xlarge|[1-9][0-9]*xlarge|metal(-[1-9][0-9]*xl)?)"
_EC2_FAMILY = r"[a-z][a-z0-9-]*[0-9][a-z0-9-]*"
EC2_INSTANCE = re.compile(rf"^{_EC2_FAMILY}\.{_EC2_SIZE}$")
RDS_CLASS = re.compile(rf"^db\.{_EC2_FAMILY}\.{_EC2_SIZE}$")
CACHE_NODE = re.compile(rf"^cache\.{_EC2_FAMILY}\.{_EC2_SIZE}$")
ECS_INSTANCE = re.compile(r"^ecs\.[a-z][a-z0-9]*(-[a-z0-9]+)*\.(small|medium|large|xlarge|[1-9][0-9]*xlarge|metal)$")
ALI_RDS_PG_CLASS = re.compile(r"^pg\.[a-z][a-z0-9]*\.[a-z0-9]+\.[a-z0-9]+$")
KVSTORE_CLASS = re.compile(r"^(redis|tair)\.[a-z0-9]+(\.[a-z0-9]+)+$")
SLB_SPEC = re.compile(r"^slb\.s[1-3]\.(small|medium|large|x{1,3}large)$")

# -- networks ---------------------------------------------------------------------------------------------

RFC1918 = tuple(ipaddress.ip_network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"))


def is_rfc1918(network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    return isinstance(network, ipaddress.IPv4Network) and any(network.subnet_of(r) for r in RFC1918)


def cidr(value: str, example: str = "203.0.113.0/24", strict: bool = False):
    try:
        return ipaddress.ip_network(value, strict=strict)
    except ValueError:
        if strict:
            try:
                loose = ipaddress.ip_network(value, strict=False)
            except ValueError:
                loose = None
            if loose is not None:
                raise ValueError(f"{value} has host bits set; the network is {loose}") from None
        raise ValueError(f"{value!r} is not a CIDR such as {example}") from None


def is_public(network) -> bool:
    return network.is_global and not network.is_multicast
