"""Target `docker`: all of Dify and its data services on one Docker host, behind nginx."""

from __future__ import annotations

import pulumi

from components import naming
from components.acme import Acme
from components.dify.app import DifyApp
from components.dify.catalog import Edge, build_catalog
from components.dify.concurrency import CONCURRENCY
from components.dify.environment import PublicUrls
from components.docker_runtime import DockerRuntime
from components.monitoring.exporters import with_exporters
from components.secrets import DifySecrets
from stacks import monitoring, pools
from stacks.config import StackConfig
from stacks.data import self_hosted_or_external


def public_urls(config: StackConfig) -> PublicUrls:
    docker = config.docker
    tls = docker.tls is not None
    scheme, port, default_port = ("https", docker.https_port, 443) if tls else ("http", docker.http_port, 80)
    host = config.domain or docker.host_name
    suffix = "" if port == default_port else f":{port}"
    return PublicUrls(base=f"{scheme}://{host}{suffix}", explicit=config.domain is not None)


def edge(config: StackConfig) -> Edge:
    tls = config.docker.tls
    given = tls is not None and tls.certificate is not None and tls.key is not None
    return Edge(
        http_port=config.docker.http_port,
        https_port=config.docker.https_port,
        tls_certificate=pulumi.Output.secret(tls.certificate.get_secret_value()) if given else None,
        tls_key=pulumi.Output.secret(tls.key.get_secret_value()) if given else None,
        acme=Acme(config.domain, tls.acme_email, tls.directory) if tls and tls.acme and config.domain else None,
        rate_limits=config.nginx.limits(config.size),
        trusted_proxies=config.nginx.proxies(behind_proxy=False),
    )


def deploy(config: StackConfig) -> dict[str, object]:
    name = naming.prefix()
    runtime = DockerRuntime(
        name,
        host=config.docker.host,
        ssh_opts=config.docker.ssh_opts,
        labels=naming.labels(),
        keep_volumes=config.docker.keep_volumes_on_destroy,
        bind_address=config.docker.bind_address,
        network_pool=config.docker.network_pool,
        metrics_address=config.monitoring.exporters_bind_address if config.monitoring.exporters else None,
    )
    data = self_hosted_or_external(name, config, runtime)
    secrets = DifySecrets(f"{name}-secrets", agent="agent" in config.dify.release.features)
    urls = public_urls(config)
    exporters = monitoring.exporters(config, data.endpoints, sidecars=False)
    catalog_edge = edge(config)
    catalog = build_catalog(config.dify, config.registry, urls, data.endpoints, secrets, catalog_edge,
                            CONCURRENCY[config.size], telemetry=monitoring.telemetry(config),
                            nginx_status=exporters.nginx_status() if exporters else None,
                            worker_pools=pools.worker_pools(config))
    if exporters is not None:
        catalog = with_exporters(catalog, exporters)
    runtime.plan(list(catalog.values()))
    DifyApp(f"{name}-app", catalog, runtime, data.workloads)

    return {
        "difyUrl": urls.base,
        "installUrl": urls.install,
        "internalEndpoints": {**data.internal, **{s.name: s.address for s in catalog.values() if s.ports}},
        "stateVolumes": [volume.name for volume in runtime.volumes.values()],
        "networks": {logical: network.name for logical, network in runtime.networks.items()},
        "workerPools": {pool.service: list(pool.watched) for pool in pools.worker_pools(config)},
        "difyVersion": config.dify.version,
        **({"acmeDirectory": catalog_edge.acme.directory} if catalog_edge.acme else {}),
        **({"scrapeTargets": {s.name: f"{config.monitoring.exporters_bind_address}:{s.scrape[0].number}"
                              for s in catalog.values() if s.scrape}} if exporters else {}),
    }
