"""The defaults of a bioimage.io export, without the exporter's heavy imports.

The command line shows them in its help, which must not wait for torch to load.
"""

__all__ = ["EXPORT_SAMPLES"]

#: Posterior samples averaged by the exported model (its documentation says so).
EXPORT_SAMPLES = 20
