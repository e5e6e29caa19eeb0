"""Market-data sources (synthetic exchange, file replay, ccxt) and row validation."""
