"""Benchmarks (speed targets live here, never in tests).

OpenMP's passive waiting is set before any benchmark imports torch, as the engines do,
so that the figures are those of the product on a machine shared with other programs.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
