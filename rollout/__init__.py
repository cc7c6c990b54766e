"""One command from nothing to a running Dify: `python -m rollout`.

Asks (or takes as flags) the target, region, domain and size, checks that the Pulumi CLI, the cloud
credentials or the Docker daemon are there, writes the answers into the stack's config and runs
`pulumi up` (or preview / destroy) through Pulumi's Automation API, printing Pulumi's progress as it
goes and Dify's address at the end.
"""
