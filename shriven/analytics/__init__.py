"""Performance analytics and reports: metrics over returns, conventions, HTML tearsheets.

The core of reporting: no prefect or streamlit import here; flows publish the tables.
"""

from shriven.analytics.conventions import CRYPTO, EQUITIES, Conventions, periods_per_year_for
from shriven.analytics.performance import PerformanceSummary, summary
from shriven.analytics.tearsheet import Tearsheet, build_tearsheet, write_tearsheet

__all__ = [
    "CRYPTO",
    "EQUITIES",
    "Conventions",
    "PerformanceSummary",
    "Tearsheet",
    "build_tearsheet",
    "periods_per_year_for",
    "summary",
    "write_tearsheet",
]
