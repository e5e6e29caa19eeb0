"""Order books: L2 book reconstruction and the L3 matching engine."""
