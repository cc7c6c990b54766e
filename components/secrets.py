"""Generated secrets: each a pulumi-random password, handed on only as a secret Output."""

from __future__ import annotations

from typing import Optional

import pulumi
import pulumi_random as random


def generated_secret(
    name: str, length: int = 32, parent: Optional[pulumi.Resource] = None
) -> pulumi.Output[str]:
    """An alphanumeric secret, safe inside URLs and shell words, kept in state as a secret."""
    password = random.RandomPassword(
        name,
        length=length,
        special=False,
        opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["result"]),
    )
    return pulumi.Output.secret(password.result)


def urlsafe_key(name: str, size: int, parent: Optional[pulumi.Resource] = None) -> pulumi.Output[str]:
    """`size` random bytes as unpadded base64url (the form the agent backend demands for its key)."""
    key = random.RandomBytes(name, length=size,
                             opts=pulumi.ResourceOptions(parent=parent, additional_secret_outputs=["base64", "hex"]))
    return pulumi.Output.secret(key.base64.apply(lambda b64: b64.replace("+", "-").replace("/", "_").rstrip("=")))


class DifySecrets(pulumi.ComponentResource):
    """The secrets Dify's services share. Each pair that upstream requires equal is one value;
    no value serves two purposes. `agent`: also those of the Agent v2 runtime."""

    agent_api_token: Optional[pulumi.Output[str]] = None
    agent_server_secret_key: Optional[pulumi.Output[str]] = None
    local_sandbox_token: Optional[pulumi.Output[str]] = None

    def __init__(self, name: str, agent: bool = False, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:secrets:DifySecrets", name, None, opts)
        # SECRET_KEY signs sessions for api, worker and beat.
        self.secret_key = generated_secret(f"{name}-secret-key", length=48, parent=self)
        # PLUGIN_DAEMON_KEY (api) == SERVER_KEY (plugin daemon).
        self.plugin_daemon_key = generated_secret(f"{name}-plugin-daemon-key", length=48, parent=self)
        # INNER_API_KEY_FOR_PLUGIN (api) == DIFY_INNER_API_KEY (plugin daemon).
        self.inner_api_key = generated_secret(f"{name}-inner-api-key", length=48, parent=self)
        # CODE_EXECUTION_API_KEY (api) == API_KEY (sandbox).
        self.sandbox_api_key = generated_secret(f"{name}-sandbox-api-key", length=48, parent=self)
        if agent:
            # AGENT_BACKEND_API_TOKEN (api, worker) == DIFY_AGENT_API_TOKEN (agent backend).
            self.agent_api_token = generated_secret(f"{name}-agent-api-token", length=48, parent=self)
            # DIFY_AGENT_SERVER_SECRET_KEY: exactly 32 bytes, unpadded base64url, or the backend will not start.
            self.agent_server_secret_key = urlsafe_key(f"{name}-agent-server-secret-key", 32, parent=self)
            # The local sandbox's shellctl token, known to the agent backend only.
            self.local_sandbox_token = generated_secret(f"{name}-local-sandbox-token", length=48, parent=self)
        self.register_outputs({})
