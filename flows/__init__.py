"""Prefect flows: one module per deployment in prefect.yaml; they only orchestrate tasks."""
