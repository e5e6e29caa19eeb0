"""Authentication core of the gateway: roles, JWTs, API keys, rate limits and the audit log."""
