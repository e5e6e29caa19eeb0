"""A three-symbol universe with a one-hour session: the fixture tests, crash trials and examples share."""

SMALL_CONFIG = """
[synthetic]
seed = 7
session_open = "14:30"
session_close = "15:30"
snapshot_every_s = 1200

[[symbols]]
symbol = "ACME"
name = "Acme Corporation"
sector = "industrials"
price = 182.40
volatility = 0.28
daily_trades = 6000

[[symbols]]
symbol = "BOLT"
name = "Bolt Motors"
sector = "consumer"
price = 243.10
volatility = 0.55
daily_trades = 9000

[[symbols]]
symbol = "CRUX"
name = "Crux Semiconductors"
sector = "technology"
price = 118.75
volatility = 0.45
daily_trades = 4000
"""
