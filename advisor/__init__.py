"""Deciding layer: intake + dataset profile + measured evidence -> recommendation.

Never imports torch, timm or streamlit (a test enforces it). Work that needs tensors
is delegated to :mod:`engines`, imported lazily where it is used.
"""
