"""Measuring layer: everything that touches pixels or tensors.

Importing this package is cheap: modules that need torch import it themselves, so
``engines.profile`` or ``engines.ingest`` can be used without loading torch.
Engines never import streamlit; long work reports progress through a callback.
"""
