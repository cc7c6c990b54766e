"""Alibaba Cloud backends of the six things Dify needs: network, ACK cluster, RDS PostgreSQL,
Tair/Redis, OSS, ACR EE, the load balancer and Alidns. Each is a ComponentResource that hands out
the shared endpoint types (components.endpoints) or plain Outputs the target composes."""
