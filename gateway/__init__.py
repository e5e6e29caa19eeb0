"""The REST gateway: the platform's front door (FastAPI), with validated JWTs, roles and audit."""
