"""Qt-free, napari-free computational core of napari-divnoising.

Everything here works on numpy arrays and torch tensors and can be used from scripts,
the command line and tests. Long work is written as generators that yield progress
events (see :mod:`napari_divnoising.core.events`).
"""
