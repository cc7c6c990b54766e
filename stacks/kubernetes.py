"""Target `kubernetes`: Dify on an existing cluster, and the path the cloud targets reuse.

`deploy(config)` connects to the cluster named by the kubeconfig/context in config; `deploy_on_cluster`
takes any `pulumi_kubernetes.Provider` (EKS, ACK...) plus the target's entry and data services.

Migrations: a Job, not the api's own lock. The catalog lets the api migrate at start
(MIGRATION_ENABLED=true), which is right for one Docker container. On a cluster, several api pods
start at once; Dify's `upgrade-db` takes a Redis lock, and the pods that do not get it skip the
migration and start serving at once, on a schema that may not be upgraded yet, and the lock expires
after 60 s, so a long migration can run twice. Here a Job (`MODE=migration`, the api's image and
environment) runs `flask upgrade-db` once per rollout; api, worker and beat depend on it, so Pulumi
starts or upgrades them only after the Job completes, and every api pod starts with migrations off.
The Job is auto-named and immutable: a version bump (or any change to its environment) replaces it,
so the new release's migrations run before the new api rolls out, all in one `pulumi up`.
"""

from __future__ import annotations

from dataclasses import replace
import ipaddress
from typing import Callable, Optional, Union
from urllib.parse import urlsplit

import pulumi
import pulumi_kubernetes as k8s

from components import naming
from components.acme import LETSENCRYPT, LETSENCRYPT_STAGING
from components.dify.app import DifyApp
from components.dify.catalog import Edge, build_catalog
from components.dify.concurrency import CONCURRENCY
from components.dify.environment import TELEMETRY_KEYS, VECTOR_STORE_PREFIXES, PublicUrls
from components.dify.releases import Release
from components.kubernetes.cert_manager import CLUSTER_ISSUER_ANNOTATION, AcmeClusterIssuer, AcmeIssuerArgs
from components.kubernetes.entry import Entry, load_balancer_annotations
from components.kubernetes.network import ALIBABA_METADATA, Destination, Isolation
from components.kubernetes_runtime import KubernetesRuntime
from components.monitoring.exporters import with_exporters
from components.monitoring.kubernetes import ClusterMonitoring, otel_egress
from components.secrets import DifySecrets
from components.workload import APP_NET, DATA_NET, OBJECT_STORE, POSTGRES, REDIS, VECTOR_STORE, ServiceSpec
from stacks import data_mode, monitoring, pools
from stacks.config import StackConfig
from stacks.data import DataServices, self_hosted_or_external

MIGRATION, PLUGIN_MIGRATION = "migrate", "plugin-migrate"
# `flask upgrade-db` exits 0 also when it skips the migration because another process holds its Redis
# lock; the Job succeeds only once Alembic reports the schema at its head.
MIGRATE_AND_CHECK = (
    "set -e\n"
    "flask upgrade-db\n"
    "current=$(flask db current 2>/dev/null)\n"
    'case "$current" in *"(head)"*) echo "schema at head: $current" ;;\n'
    '  *) echo "the schema is not at head after the migration: ${current:-no revision}" >&2; exit 1 ;;\n'
    "esac\n"
)
DAEMON_MIGRATE, DAEMON_SERVER = ("/app/commandline", "migrate"), ("/app/main",)


def with_migration_job(catalog: dict[str, ServiceSpec], release: Release) -> dict[str, ServiceSpec]:
    """The api's migration moved into a run-once workload that api (and so worker and beat) wait for.

    The plugin daemon's image migrates its own database before serving, without a lock, so two
    replicas starting together race. Where the image can migrate apart (`daemon_migrates_apart`), a
    second Job runs `commandline migrate` once and the daemons start only the server after it."""
    api = catalog["api"]
    migrate = replace(
        api, name=MIGRATION, upstream_name="api_migration",
        # The Job serves nothing, reads no vector store and has no way out: no gunicorn arguments, no
        # telemetry export.
        env={k: v for k, v in api.env.items() if k != "GUNICORN_CMD_ARGS" and k not in TELEMETRY_KEYS
             and not k.startswith(VECTOR_STORE_PREFIXES)}
        | {"MODE": "migration", "MIGRATION_ENABLED": "true"},
        secret_env={k: v for k, v in api.secret_env.items() if k not in TELEMETRY_KEYS
                    and not k.startswith(VECTOR_STORE_PREFIXES)},
        data=api.data - {VECTOR_STORE},
        entrypoint=("/bin/bash", "-c"), command=(MIGRATE_AND_CHECK,),
        ports=(), health=None, public_ports=(), depends_on=(), run_once=True,
        networks=frozenset({APP_NET, DATA_NET}), calls=(), internet=False, grace_period_s=30, drain_s=0,
    )
    api = replace(api, env={**api.env, "MIGRATION_ENABLED": "false"},
                  depends_on=tuple(dict.fromkeys(api.depends_on + (MIGRATION,))))
    jobs = {MIGRATION: migrate}
    # On a Docker host the api migrates as it starts, so worker, beat and the websocket server start
    # after it; here they need only the migration and start beside the api.
    catalog = {name: replace(spec, depends_on=tuple(dict.fromkeys(
                   MIGRATION if d == "api" else d for d in spec.depends_on)))
               if spec.image == api.image and name != "api" else spec
               for name, spec in catalog.items()}
    daemon = catalog["plugin-daemon"]
    if release.daemon_migrates_apart:
        jobs[PLUGIN_MIGRATION] = replace(
            daemon, name=PLUGIN_MIGRATION, upstream_name="plugin_daemon_migration", command=DAEMON_MIGRATE,
            ports=(), health=None, state=(), depends_on=(), run_once=True,
            networks=frozenset({APP_NET, DATA_NET}), calls=(), internet=False, data=frozenset({POSTGRES}),
        )
        daemon = replace(daemon, command=DAEMON_SERVER,
                         depends_on=tuple(dict.fromkeys(daemon.depends_on + (PLUGIN_MIGRATION,))))
    return {**jobs, **catalog, "api": api, "plugin-daemon": daemon}


def entry_from_config(config: StackConfig) -> Entry:
    k = config.kubernetes
    if k.entry == "ingress":
        tls = k.tls
        issuer = cluster_issuer(config)
        return Entry(
            kind="ingress",
            annotations={**({CLUSTER_ISSUER_ANNOTATION: issuer} if issuer else {}), **k.ingress.annotations},
            ingress_class=k.ingress.class_name,
            ingress_host=config.domain,
            ingress_tls_secret=k.ingress.tls_secret or (issued_tls_secret() if issuer else None),
            tls_certificate=pulumi.Output.secret(tls.certificate.get_secret_value()) if tls else None,
            tls_key=pulumi.Output.secret(tls.key.get_secret_value()) if tls else None,
            http01_solver=issuer is not None,
        )
    if k.entry in ("nodePort", "clusterIP"):
        return Entry(kind=k.entry, node_port=k.node_port)
    lb = k.load_balancer
    return Entry(
        kind="loadBalancer",
        annotations={**load_balancer_annotations(lb.cloud, lb.certificate, lb.internal), **lb.annotations},
        tls_at_load_balancer=lb.certificate is not None,
        source_ranges=tuple(lb.source_ranges),
        load_balancer_class=lb.load_balancer_class,
        wait_for_address=lb.wait_for_address,
    )


def cluster_issuer(config: StackConfig) -> Optional[str]:
    """The ClusterIssuer the Ingress's certificate comes from: the one named, or the one `acme_issuer` declares."""
    ingress = config.kubernetes.ingress
    if ingress.cluster_issuer is not None:
        return ingress.cluster_issuer
    if ingress.acme_email is None:
        return None
    kind = {LETSENCRYPT: "letsencrypt", LETSENCRYPT_STAGING: "letsencrypt-staging"}.get(ingress.directory, "acme")
    return f"{naming.prefix()}-{kind}"


def issued_tls_secret() -> str:
    """The kubernetes.io/tls Secret cert-manager keeps the Ingress's certificate in."""
    return f"{naming.prefix()}-ingress-tls"


def acme_issuer(config: StackConfig, provider: k8s.Provider) -> Optional[AcmeClusterIssuer]:
    ingress = config.kubernetes.ingress
    name = cluster_issuer(config)
    if ingress.acme_email is None or name is None:
        return None
    return AcmeClusterIssuer(name, AcmeIssuerArgs(ingress.acme_email, ingress.directory, ingress.class_name),
                             labels=naming.labels(), opts=pulumi.ResourceOptions(providers=[provider]))


def edge_viewer_header(config: StackConfig) -> Optional[str]:
    """CloudFront in front (aws, edge.cdn) passes the viewer's address and port in this header; the
    ALB then admits only CloudFront's origin-facing ranges, so viewers cannot set it themselves."""
    return "CloudFront-Viewer-Address" if config.target == "aws" and config.edge.cdn else None


def edge(config: StackConfig, entry: Entry) -> Edge:
    """nginx serves TLS itself only when it is the entry and holds the certificate."""
    tls = config.kubernetes.tls if entry.kind != "ingress" else None
    return Edge(
        tls_certificate=pulumi.Output.secret(tls.certificate.get_secret_value()) if tls else None,
        tls_key=pulumi.Output.secret(tls.key.get_secret_value()) if tls else None,
        behind_proxy=entry.behind_proxy,
        rate_limits=config.nginx.limits(config.size, viewer_address_header=edge_viewer_header(config)),
        trusted_proxies=config.nginx.proxies(entry.behind_proxy),
    )


def public_urls(config: StackConfig, tls: bool) -> PublicUrls:
    """With a domain, absolute URLs; without one, empty bases: Dify then uses relative URLs, which
    work on whatever address the load balancer gets."""
    if config.domain is None:
        return PublicUrls(base="", explicit=False)
    return PublicUrls(base=f"{'https' if tls else 'http'}://{config.domain}", explicit=True)


def deploy_on_cluster(
    config: StackConfig,
    provider: k8s.Provider,
    entry: Optional[Entry] = None,
    data: Optional[Union[DataServices, Callable[[KubernetesRuntime], DataServices]]] = None,
    name: Optional[str] = None,
    identities: Optional[dict[str, dict[str, str]]] = None,
    isolation: Optional[Isolation] = None,
    min_volume: Optional[str] = None,
) -> dict[str, object]:
    """Dify on the cluster behind `provider`. `entry` defaults to config's; `data` defaults to
    self-hosted or external data services as config says (cloud targets pass their managed ones,
    or a function of the runtime when they also run something in the namespace, e.g. a Job that
    prepares a managed database); `identities` (workload -> annotations binding its service account to
    a cloud identity); `min_volume`: the smallest volume the cluster's storage class provisions."""
    name = name or naming.prefix()
    k = config.kubernetes
    entry = entry or entry_from_config(config)
    runtime = KubernetesRuntime(
        name,
        provider=provider,
        namespace=k.namespace,
        preset=pools.sizing(config),
        labels=naming.labels(),
        entry=entry,
        storage_class=k.storage_class,
        min_volume=min_volume,
        grow_volumes=k.grow_volumes,
        keda_namespace=k.keda_namespace,
        network_policies=k.network_policies,
        create_namespace=k.create_namespace,
        keep_namespace=k.keep_data_on_destroy,
        identities=identities,
        isolation=isolation or isolation_from_config(config),
        sandbox_namespace=k.sandbox_namespace,
        cluster_domain=k.cluster_domain,
        priority_classes=({"critical": k.priority_classes.critical, "background": k.priority_classes.background}
                          if k.priority_classes.enabled else None),
    )
    if callable(data):
        data = data(runtime)
    data = data or self_hosted_or_external(name, config, runtime)
    secrets = DifySecrets(f"{name}-secrets", agent="agent" in config.dify.release.features)
    tls = k.tls_enabled or entry.tls_at_load_balancer
    urls = public_urls(config, tls)
    exporters = monitoring.exporters(config, data.endpoints, sidecars=True)
    catalog = with_migration_job(
        build_catalog(config.dify, config.registry, urls, data.endpoints, secrets, edge(config, entry),
                      CONCURRENCY[config.size], telemetry=monitoring.telemetry(config),
                      nginx_status=exporters.nginx_status() if exporters else None,
                      worker_pools=pools.worker_pools(config)),
        config.dify.release,
    )
    if exporters is not None:
        catalog = with_exporters(catalog, exporters)
    runtime.place(catalog.values())
    DifyApp(f"{name}-app", catalog, runtime, data.workloads)
    if exporters is not None:
        ClusterMonitoring(f"{name}-monitoring", runtime, catalog,
                          monitoring.cluster_args(config, runtime, catalog, exporters))
    collector = monitoring.collector(config)
    if collector is not None:
        otel_egress(runtime, catalog, collector)

    address = runtime.entry_address
    scheme = "https" if tls else "http"
    url = (pulumi.Output.from_input(urls.base) if urls.explicit
           else address.apply(lambda a: f"{scheme}://{a}" if a else None))
    return {
        "difyUrl": url,
        "installUrl": url.apply(lambda u: f"{u}/install" if u else None),
        "entryAddress": address,
        "namespace": runtime.namespace,
        "sandboxNamespace": runtime.sandbox_namespace,
        "size": config.size,
        "internalEndpoints": {**data.internal, **{s.name: s.address for s in catalog.values() if s.ports}},
        "workerPools": {pool.service: list(pool.watched) for pool in pools.worker_pools(config)},
        "difyVersion": config.dify.version,
        "images": sorted({s.image for s in catalog.values()} | {c.image for s in catalog.values() for c in s.sidecars}),
        **({"selfHostedData": data.modes} if data.modes is not None else {}),
    }


def user_destination(host: Optional[str], port: int, nearby: pulumi.Input[str]) -> Destination:
    """A server the user runs, on a cloud target: its address when given as one, else the VPC's
    range or public addresses, on its port."""
    exact = _address_or(host, [])
    return Destination(port, exact) if exact else Destination(port, (nearby,), public=True)


def user_object_store(endpoint: Optional[str], nearby: pulumi.Input[str]) -> Destination:
    url = urlsplit(endpoint or "https://s3.amazonaws.com")
    return user_destination(url.hostname, url.port or (80 if url.scheme == "http" else 443), nearby)


def _address_or(host: Optional[str], cidrs: list[str]) -> tuple[str, ...]:
    if cidrs:
        return tuple(cidrs)
    try:
        return (f"{ipaddress.ip_address(host or '')}/32",)
    except ValueError:
        return ()


def vector_store_destination(config: StackConfig, nearby: Optional[pulumi.Input[str]] = None) -> Optional[Destination]:
    """An external vector store: the ranges given in vectorStore.cidrs, else its address when the URL
    holds one, else (a name) the VPC's range on a cloud target and public addresses, on its port."""
    store = config.vector_store
    if store.kind != "external" or store.url is None:
        return None
    url = urlsplit(store.url)
    port = url.port or (80 if url.scheme == "http" else 443)
    exact = _address_or(url.hostname, list(store.cidrs))
    if exact:
        return Destination(port, exact)
    return Destination(port, (nearby,) if nearby is not None else (), public=True)


def isolation_from_config(config: StackConfig) -> Isolation:
    """The cluster's ranges and DNS from `kubernetes.isolation`, and the external data services'
    addresses (an IP host, or the ranges given; an object store named by host name is public)."""
    iso = config.kubernetes.isolation
    external: dict[str, Destination] = {}
    for service, settings, cidrs in ((POSTGRES, config.postgres, iso.data_cidrs.postgres),
                                     (REDIS, config.redis, iso.data_cidrs.redis)):
        if settings.mode == "external":
            external[service] = Destination(settings.port, _address_or(settings.host, cidrs))
    store = config.object_storage
    if store.mode == "external":
        url = urlsplit(store.endpoint or "https://s3.amazonaws.com")
        port = url.port or (80 if url.scheme == "http" else 443)
        external[OBJECT_STORE] = Destination(port, _address_or(url.hostname, iso.data_cidrs.object_storage))
    vectors = vector_store_destination(config)
    if vectors is not None:
        external[VECTOR_STORE] = vectors
    return Isolation(cluster_ranges=tuple(iso.cluster_cidrs), metadata=(ALIBABA_METADATA,),
                     dns_addresses=tuple(iso.dns_addresses), external=external)


def provider_from_config(config: StackConfig, name: str) -> k8s.Provider:
    k = config.kubernetes
    return k8s.Provider(
        f"{name}-cluster",
        kubeconfig=pulumi.Output.secret(k.kubeconfig.get_secret_value()) if k.kubeconfig else None,
        context=k.context,
        # Every object names its namespace; nothing lands in the kubeconfig's default by accident.
        namespace=k.namespace,
    )


def deploy(config: StackConfig) -> dict[str, object]:
    # An unconfirmed switch of a self-hosted data service's engine stops the program before anything.
    data_mode.check_switch(config)
    name = naming.prefix()
    if not config.kubernetes.network_policies:
        pulumi.log.warn("kubernetes.networkPolicies false: no NetworkPolicy is declared, so every pod (the code "
                        "sandboxes and the plugin daemon among them) reaches every other pod, the nodes, the "
                        "cluster's API and the cloud's metadata service")
    provider = provider_from_config(config, name)
    issuer = acme_issuer(config, provider)
    outputs = deploy_on_cluster(config, provider, name=name)
    if config.kubernetes.entry == "ingress" and config.kubernetes.ingress.cert_manager:
        outputs["certificateIssuer"] = issuer.name if issuer else cluster_issuer(config)
        outputs["tlsSecret"] = issued_tls_secret()
    return outputs
