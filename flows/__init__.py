"""Prefect flows: one module per deployment in prefect.yaml; they only orchestrate tasks."""

import os

# Set before numba or torch loads libgomp (it reads the variable once): numba's parallel kernels
# and torch share it, and with the default spinning wait policy idle numba threads took the cores
# from torch's gemms (5x slower sentiment scoring in a process that had priced options, measured).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
