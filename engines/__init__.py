"""Measuring layer: everything that touches pixels or tensors.

Importing this package is cheap: modules that need torch import it themselves, so
``engines.profile`` or ``engines.ingest`` can be used without loading torch.
Engines never import streamlit; long work reports progress through a callback.

OpenMP's worker threads spin while waiting by default; on a laptop where other
programs keep the cores busy that spinning costs up to several times the work itself
(a training step measured 0.165 s per image with two busy programs beside it, 0.089 s
with passive waiting). The passive policy is set here, before torch starts OpenMP,
unless the environment already chose one.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
