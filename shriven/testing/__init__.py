"""Hand-written stubs and data providers for tests (no mocks, no network)."""
