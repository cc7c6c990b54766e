"""The Docker renderer: turns workload specs into images, volumes and containers on one host.

Networks follow the workloads' contract (ServiceSpec.calls / data / internet), as the Kubernetes
NetworkPolicies do, with what Docker networks can express (a network joins containers on every port):
- `<a>--<b>`: internal, exactly the two containers of a call between them;
- `data-<service>`: internal, a self-hosted data service and the workloads that use it (the data
  containers are created before the catalog, so one network per data service, not per pair);
- `egress-<service>`: a bridge with a route out, for one workload that needs the internet (or an
  external data service), shared with nobody;
- `entry`: nginx alone, on a bridge (published ports need one), so nginx also has a route out;
- `scrape-<service>`: an exporter alone, on a bridge without masquerading (published ports need a
  bridge; without NAT its packets do not leave the host for the internet), its metrics port published
  on `metrics_address` only.
Each network gets a /28 from `network_pool` at a slot derived from its name (the next free one if
two names meet), so Docker's default pools (about 30 networks) are not exhausted and a network keeps
its subnet when services are added or removed.
"""

from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import replace
from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from components.workload import DATA_NET, OBJECT_STORE, POSTGRES, REDIS, ServiceSpec

DATA_SERVICES = (POSTGRES, REDIS, OBJECT_STORE)
ENTRY = "entry"
SCRAPE = "scrape-"


class DockerRuntime(pulumi.ComponentResource):
    """A Docker host: its provider, the networks, and the images and volumes shared by services."""

    def __init__(
        self,
        name: str,
        host: Optional[str],
        ssh_opts: Sequence[str],
        labels: dict[str, str],
        keep_volumes: bool,
        bind_address: str = "0.0.0.0",
        network_pool: str = "10.213.0.0/16",
        metrics_address: Optional[str] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:docker:DockerRuntime", name, None, opts)
        # Where the exporters' scrape ports are published (None: nowhere).
        self.metrics_address = metrics_address
        self.prefix = name
        self.labels = labels
        self.keep_volumes = keep_volumes
        self.bind_address = bind_address
        self.provider = docker.Provider(
            f"{name}-host",
            host=host,
            ssh_opts=list(ssh_opts) or None,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self._child = pulumi.ResourceOptions(parent=self, provider=self.provider)
        self.networks: dict[str, docker.Network] = {}
        self._subnets = list(ipaddress.ip_network(network_pool).subnets(new_prefix=28))
        self._taken: set[int] = set()
        # Workload -> the pair networks it joins (see `plan`); data services run here (by name).
        self.joins: dict[str, set[str]] = {}
        self.deployed_data: set[str] = set()
        self.volumes: dict[str, docker.Volume] = {}
        self.images: dict[str, docker.RemoteImage] = {}
        self.containers: dict[str, docker.Container] = {}
        self.run_once: dict[str, docker.Container] = {}
        self.register_outputs({})

    def plan(self, specs: Sequence[ServiceSpec]) -> None:
        """The pair networks of every call, known before any caller or callee is created."""
        for spec in specs:
            for call in spec.calls:
                pair = "--".join(sorted((spec.name, call.service)))
                self.joins.setdefault(spec.name, set()).add(pair)
                self.joins.setdefault(call.service, set()).add(pair)

    def networks_for(self, spec: ServiceSpec) -> set[str]:
        nets = set(self.joins.get(spec.name, ()))
        if spec.name in DATA_SERVICES and spec.networks == frozenset({DATA_NET}):
            nets.add(f"data-{spec.name}")
        external = [d for d in spec.data if d not in self.deployed_data]
        nets |= {f"data-{d}" for d in spec.data if d in self.deployed_data}
        if spec.internet or external:
            nets.add(f"egress-{spec.name}")
        if spec.public_ports:
            nets.add(ENTRY)
        if self._scraped(spec):
            nets.add(f"{SCRAPE}{spec.name}")
        return nets

    def _scraped(self, spec: ServiceSpec) -> bool:
        return bool(spec.scrape) and self.metrics_address is not None and not spec.public_ports

    def network(self, logical: str) -> docker.Network:
        """The host network for a logical network, created when a service first joins it."""
        if logical not in self.networks:
            slot = int(hashlib.sha256(logical.encode()).hexdigest(), 16) % len(self._subnets)
            while slot in self._taken:
                slot = (slot + 1) % len(self._subnets)
            self._taken.add(slot)
            subnet = str(self._subnets[slot])
            self.networks[logical] = docker.Network(
                f"{self.prefix}-net-{logical}",
                name=f"{self.prefix}-net-{logical}",
                internal=not (logical == ENTRY or logical.startswith(("egress-", SCRAPE))),
                driver="bridge",
                options={"com.docker.network.bridge.enable_ip_masquerade": "false"}
                if logical.startswith(SCRAPE) else None,
                ipam_configs=[docker.NetworkIpamConfigArgs(subnet=subnet)],
                labels=self._labels(),
                opts=self._child,
            )
        return self.networks[logical]

    def _labels(self, extra: Optional[dict[str, str]] = None) -> list[docker.NetworkLabelArgs]:
        merged = {**self.labels, **(extra or {})}
        return [docker.NetworkLabelArgs(label=k, value=v) for k, v in sorted(merged.items())]

    def image(self, ref: str) -> docker.RemoteImage:
        if ref not in self.images:
            logical = ref.rsplit("/", 1)[-1].replace(":", "-").replace(".", "-")
            self.images[ref] = docker.RemoteImage(
                f"{self.prefix}-image-{logical}",
                name=ref,
                keep_locally=True,
                opts=self._child,
            )
        return self.images[ref]

    def volume(self, logical: str) -> docker.Volume:
        if logical not in self.volumes:
            self.volumes[logical] = docker.Volume(
                f"{self.prefix}-{logical}",
                name=f"{self.prefix}-{logical}",
                labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in sorted(self.labels.items())],
                opts=pulumi.ResourceOptions(
                    parent=self, provider=self.provider, retain_on_delete=self.keep_volumes
                ),
            )
        return self.volumes[logical]

    def run(
        self,
        spec: ServiceSpec,
        depends_on: Sequence[pulumi.Resource] = (),
        parent: Optional[pulumi.Resource] = None,
        wait_timeout_s: int = 600,
    ) -> docker.Container:
        """Starts `spec` as a container. Containers with a health check are created only once healthy,
        so whatever depends on them starts after. A run-once spec is a container that runs to completion
        while `pulumi up` waits (`attach`), and stays stopped; whatever depends on it is created only
        once it exited 0. Its `prepare` step runs the same way before it, sharing its volumes."""
        if spec.prepare is not None:
            first = self.run(replace(spec.prepare, state=spec.state), depends_on, parent, wait_timeout_s)
            depends_on = [*depends_on, first]
        image = self.image(spec.image)
        nets = sorted(self.networks_for(spec))
        if spec.name in DATA_SERVICES and spec.networks == frozenset({DATA_NET}):
            self.deployed_data.add(spec.name)
        env = {**{k: pulumi.Output.from_input(v) for k, v in spec.env.items()}, **spec.secret_env}
        envs = pulumi.Output.all(**env).apply(lambda values: [f"{k}={values[k]}" for k in sorted(values)])
        if spec.secret_env:
            envs = pulumi.Output.secret(envs)
        health = spec.health
        healthcheck = None
        if health is not None and health.command is not None:
            healthcheck = docker.ContainerHealthcheckArgs(
                tests=list(health.command),
                interval=f"{health.interval_s}s",
                timeout=f"{health.timeout_s}s",
                retries=health.retries,
                start_period=f"{health.start_period_s}s",
                start_interval="2s",
            )
        uploads = [
            docker.ContainerUploadArgs(
                file=f.path,
                content=pulumi.Output.secret(f.content) if f.secret else f.content,
                executable=f.path.endswith(".sh"),
            )
            for f in spec.files
        ]
        container = docker.Container(
            f"{self.prefix}-{spec.name}",
            name=f"{self.prefix}-{spec.name}",
            image=image.image_id,
            envs=envs,
            command=list(spec.command) if spec.command else None,
            entrypoints=list(spec.entrypoint) if spec.entrypoint else None,
            restart="no" if spec.run_once else "unless-stopped",
            attach=True if spec.run_once else None,
            must_run=False if spec.run_once else None,
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=self.network(net).name, aliases=[spec.name])
                for net in nets
            ],
            # A container on no network would land on Docker's default bridge, which has a route out.
            network_mode=None if nets else "none",
            mounts=[
                docker.ContainerMountArgs(target=m.path, type="volume", source=self.volume(m.volume).name)
                for m in spec.state
            ],
            uploads=uploads or None,
            healthcheck=healthcheck,
            wait=healthcheck is not None,
            wait_timeout=wait_timeout_s if healthcheck is not None else None,
            ports=[
                docker.ContainerPortArgs(internal=p.container, external=p.host, ip=self.bind_address)
                for p in spec.public_ports
            ]
            + [docker.ContainerPortArgs(internal=s.number, external=s.number, ip=self.metrics_address)
               for s in (spec.scrape if self._scraped(spec) else ())]
            or None,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in sorted({**self.labels, "dify.service": spec.name}.items())
            ] + [
                # Resolves only once the run-once container exited 0; otherwise `pulumi up` stops here.
                docker.ContainerLabelArgs(label=f"dify.after.{name}", value=done.exit_code.apply(_succeeded(name)))
                for name, done in self.run_once.items() if done in depends_on
            ],
            stop_timeout=spec.grace_period_s if spec.grace_period_s != 30 else None,
            log_driver="json-file",
            log_opts={"max-size": "50m", "max-file": "5"},
            opts=pulumi.ResourceOptions(
                parent=parent or self,
                provider=self.provider,
                depends_on=list(depends_on),
            ),
        )
        self.containers[spec.name] = container
        if spec.run_once:
            self.run_once[spec.name] = container
        return container


def _succeeded(name: str):
    def check(code: Optional[int]) -> str:
        if code != 0:
            raise RuntimeError(f"the run-once container {name} exited with code {code}: read `docker logs` of it, "
                               "fix the cause and run `pulumi up` again (nothing that depends on it was started)")
        return "0"
    return check
