"""Observability: structured logs, cheap in-process metrics exported through snapshot files, health."""
