"""ShrivenQuant core: the engine and the data layer (no prefect, streamlit or fastapi imports)."""

__version__ = "0.1.0"
