"""The trading engine: one event loop for backtest, paper and live (strategy → risk → OMS → venue → portfolio)."""
