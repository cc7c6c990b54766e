class PreflightError(Exception):
    """Something the rollout needs is missing; the message says what and how to fix it."""
