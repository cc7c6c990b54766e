"""Security contexts: what each image needs, and nothing else.

A profile belongs to an image, not to a service: the dify-api image serves api, worker, beat and the
migration job alike. Every container drops ALL capabilities, may not escalate privileges and runs
under the runtime's default seccomp profile; a profile adds back only what that image's own
entrypoint does (switch users, chroot, bind port 80). Images that ship a non-root user run as it
(numerically, so `runAsNonRoot` can be verified by the kubelet), with `fsGroup` making volumes writable.
All capabilities added here are in the Pod Security Standard `baseline` set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from components import images


@dataclass(frozen=True)
class Profile:
    user: Optional[int] = None  # None: the image's own user (root for these images)
    group: Optional[int] = None
    add: tuple[str, ...] = ()
    share_process_namespace: bool = False
    why: str = ""

    def pod(self) -> dict:
        context: dict = {"seccompProfile": {"type": "RuntimeDefault"}}
        if self.user is not None:
            context.update(runAsNonRoot=True, runAsUser=self.user, runAsGroup=self.group, fsGroup=self.group,
                           fsGroupChangePolicy="OnRootMismatch")
        return context

    def container(self) -> dict:
        capabilities: dict = {"drop": ["ALL"]}
        if self.add:
            capabilities["add"] = list(self.add)
        return {"allowPrivilegeEscalation": False, "privileged": False, "capabilities": capabilities}


# Root daemons that start as root and then switch to an unprivileged user themselves.
_DROPS_PRIVILEGES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETGID", "SETUID")

PROFILES: dict[str, Profile] = {
    # Both Dify images create user `dify` (uid/gid 1001) and switch to it.
    images.DIFY_API: Profile(1001, 1001, why="runs as its own user dify (1001)"),
    images.DIFY_WEB: Profile(1001, 1001, why="runs as its own user dify (1001)"),
    # The sandbox runs user code chrooted under an unprivileged uid it switches to per request,
    # and kills runaway children owned by that uid.
    images.DIFY_SANDBOX: Profile(add=_DROPS_PRIVILEGES + ("KILL", "SYS_CHROOT"),
                                 why="chroot and setuid for each code run"),
    # The agent backend's image creates user dify (1001) and runs as it.
    images.DIFY_AGENT_BACKEND: Profile(1001, 1001, why="runs as its own user dify (1001)"),
    # The local sandbox runs as its image's user `dify` (named, without a fixed uid, so the kubelet cannot
    # check runAsNonRoot); Landlock needs no capability, and no_new_privs suits it.
    images.DIFY_AGENT_LOCAL_SANDBOX: Profile(why="its image's own user dify; Landlock needs no capabilities"),
    # The plugin daemon runs plugins as child processes under its own (root) user in its working path.
    # Plugins exit when they see getppid() == 1, which happens as PID 1's children without a shared
    # process namespace (the fix upstream's Helm chart adopted).
    images.DIFY_PLUGIN_DAEMON: Profile(share_process_namespace=True,
                                       why="root in its own working path; needs no capabilities"),
    # nginx: master binds :80/:443 as root, workers run as `nginx`, temp dirs are chowned at start.
    images.NGINX: Profile(add=("CHOWN", "SETGID", "SETUID", "NET_BIND_SERVICE"),
                          why="binds :80, workers switch to nginx"),
    # squid: the entrypoint prepares its log/spool dirs, then squid switches to `proxy`.
    images.SQUID: Profile(add=_DROPS_PRIVILEGES, why="prepares its dirs, then switches to proxy"),
    # Official postgres and redis images support running directly as their service user.
    images.POSTGRES_PGVECTOR: Profile(999, 999, why="runs as postgres (999)"),
    images.REDIS: Profile(999, 1000, why="runs as redis (999:1000)"),
    # SeaweedFS needs only its data directory.
    images.SEAWEEDFS: Profile(1000, 1000, why="needs only its data directory"),
}

DEFAULT = Profile(why="unknown image: no capabilities")


def _repository(ref: str) -> str:
    name = ref.rsplit("@", 1)[0]
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name = name[: len(name) - len(last)] + last.split(":", 1)[0]
    return name


def profile_for(image: str) -> Profile:
    """The profile of `image`, also when pulled through a mirror (`mirror/library/nginx:tag`)."""
    repository = _repository(image)
    for key, profile in PROFILES.items():
        known = _repository(key)
        if repository == known or repository.endswith(("/" + known, "/library/" + known)):
            return profile
    return DEFAULT
