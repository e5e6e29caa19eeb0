"""Prefect tasks: thin, batch-sized wrappers (retries, logging, artifacts) around one core call each."""
