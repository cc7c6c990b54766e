"""How much work each Dify process takes on, per size preset, and the PostgreSQL connections it opens.

Upstream's code defaults are one gunicorn worker per api container and small pools. Here:
- api: `SERVER_WORKER_AMOUNT` gunicorn processes (gevent), each serving `SERVER_WORKER_CONNECTIONS`
  requests at once and holding its own SQLAlchemy pool (`SQLALCHEMY_POOL_SIZE` + `MAX_OVERFLOW`) and
  pgvector pool (`PGVECTOR_MAX_CONNECTION`);
- worker: one Celery process (gevent pool) running `CELERY_WORKER_AMOUNT` tasks at once, with one pool;
- plugin daemon: at most `DB_MAX_OPEN_CONNS` connections (its own default is 30).
Processes per pod match the pod's CPU limit (components.kubernetes.sizing), and memory the measured
peaks (api ~575 MiB per process).
"""

from __future__ import annotations

from dataclasses import dataclass

from components.dify.environment import Env


@dataclass(frozen=True)
class Concurrency:
    api_processes: int
    api_connections: int
    celery_tasks: int
    db_pool: int
    db_overflow: int
    pgvector_pool: int
    daemon_connections: int

    @property
    def per_process(self) -> int:
        """Connections one api/worker/beat process may hold: its SQLAlchemy pool and its pgvector pool."""
        return self.db_pool + self.db_overflow + self.pgvector_pool

    def shared_env(self) -> Env:
        return {
            "SQLALCHEMY_POOL_SIZE": str(self.db_pool),
            "SQLALCHEMY_MAX_OVERFLOW": str(self.db_overflow),
            "SQLALCHEMY_POOL_PRE_PING": "true",
            "PGVECTOR_MIN_CONNECTION": "1",
            "PGVECTOR_MAX_CONNECTION": str(self.pgvector_pool),
        }

    def api_env(self) -> Env:
        return {"SERVER_WORKER_AMOUNT": str(self.api_processes),
                "SERVER_WORKER_CONNECTIONS": str(self.api_connections)}

    def daemon_env(self) -> Env:
        return {"DB_MAX_OPEN_CONNS": str(self.daemon_connections),
                "DB_MAX_IDLE_CONNS": str(max(1, self.daemon_connections // 3))}


CONCURRENCY: dict[str, Concurrency] = {
    "dev": Concurrency(api_processes=1, api_connections=10, celery_tasks=4, db_pool=10, db_overflow=5,
                       pgvector_pool=5, daemon_connections=20),
    "small": Concurrency(api_processes=1, api_connections=20, celery_tasks=8, db_pool=10, db_overflow=5,
                         pgvector_pool=5, daemon_connections=20),
    "production": Concurrency(api_processes=2, api_connections=50, celery_tasks=16, db_pool=10, db_overflow=5,
                              pgvector_pool=5, daemon_connections=30),
}


# Tasks per worker pod of each pool (workers.layout split): indexing is heavy per task, workflow runs wait
# on models and tools, the ops queues carry short tasks.
POOL_TASKS: dict[str, dict[str, int]] = {
    "dev": {"dataset": 4, "workflow": 4, "ops": 2},
    "small": {"dataset": 8, "workflow": 8, "ops": 4},
    "production": {"dataset": 8, "workflow": 16, "ops": 4},
}
