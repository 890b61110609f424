"""napari-divnoising: unsupervised diversity denoising for microscopy."""
try:
    from ._version import version as __version__
except ImportError:  # pragma: no cover - running from a source tree without a build
    __version__ = "unknown"
