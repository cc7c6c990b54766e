"""Pieces of the Kubernetes renderer: sizing presets, security profiles, pod templates,
network policies and the entry. `components.kubernetes_runtime` puts them together."""
