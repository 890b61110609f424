"""napari dock widgets: the only subpackage that imports Qt and napari.

Each dock widget lives in its own module and is named in the npe2 manifest
(``napari.yaml``); nothing is imported here so that loading one widget does not load the
others. The widgets are thin: they read layer data, call :mod:`napari_divnoising.core`
in napari thread workers and push the results back as layers.
"""
