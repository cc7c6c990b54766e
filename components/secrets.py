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


class DifySecrets(pulumi.ComponentResource):
    """The secrets Dify's services share. Each pair that upstream requires equal is one value;
    no value serves two purposes."""

    def __init__(self, name: str, opts: Optional[pulumi.ResourceOptions] = None) -> None:
        super().__init__("dify:secrets:DifySecrets", name, None, opts)
        # SECRET_KEY signs sessions for api, worker and beat.
        self.secret_key = generated_secret(f"{name}-secret-key", length=48, parent=self)
        # PLUGIN_DAEMON_KEY (api) == SERVER_KEY (plugin daemon).
        self.plugin_daemon_key = generated_secret(f"{name}-plugin-daemon-key", length=48, parent=self)
        # INNER_API_KEY_FOR_PLUGIN (api) == DIFY_INNER_API_KEY (plugin daemon).
        self.inner_api_key = generated_secret(f"{name}-inner-api-key", length=48, parent=self)
        # CODE_EXECUTION_API_KEY (api) == API_KEY (sandbox).
        self.sandbox_api_key = generated_secret(f"{name}-sandbox-api-key", length=48, parent=self)
        self.register_outputs({})
