"""Metrics and alerts: the exporters beside Dify's services, what a Prometheus scrapes, the alert rules
and a Grafana dashboard. `exporters` is plain data both renderers read; `kubernetes` declares the
Prometheus Operator objects; `rules` and `dashboard` are what those objects hold."""
