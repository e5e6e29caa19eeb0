"""Strategies: the small API the engine calls (``base``) and the built-in strategies."""
