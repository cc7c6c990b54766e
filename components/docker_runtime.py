"""The Docker renderer: turns workload specs into images, volumes and containers on one host."""

from __future__ import annotations

from typing import Optional, Sequence

import pulumi
import pulumi_docker as docker

from components.workload import APP_NET, INTERNAL_NETWORKS, ServiceSpec

# Logical network -> internal (no route out of the host). The sandboxes leave only via their proxies.
NETWORKS = {APP_NET: False, **{net: True for net in INTERNAL_NETWORKS}}


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
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        super().__init__("dify:docker:DockerRuntime", name, None, opts)
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
        self.volumes: dict[str, docker.Volume] = {}
        self.images: dict[str, docker.RemoteImage] = {}
        self.containers: dict[str, docker.Container] = {}
        self.register_outputs({})

    def network(self, logical: str) -> docker.Network:
        """The host network for a logical network, created when a service first joins it."""
        if logical not in self.networks:
            self.networks[logical] = docker.Network(
                f"{self.prefix}-net-{logical}",
                name=f"{self.prefix}-net-{logical}",
                internal=NETWORKS[logical],
                driver="bridge",
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
        so whatever depends on them starts after."""
        image = self.image(spec.image)
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
            restart="unless-stopped",
            networks_advanced=[
                docker.ContainerNetworksAdvancedArgs(name=self.network(net).name, aliases=[spec.name])
                for net in sorted(spec.networks)
            ],
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
            or None,
            labels=[
                docker.ContainerLabelArgs(label=k, value=v)
                for k, v in sorted({**self.labels, "dify.service": spec.name}.items())
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
        return container
