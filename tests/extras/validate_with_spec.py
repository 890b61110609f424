"""Validate a bioimage.io package with the bioimageio.spec of this environment alone.

Run with the python of an environment that has only ``bioimageio.spec`` (the newest
release)::

    python tests/extras/validate_with_spec.py PACKAGE.zip

The package is read and updated to the newest format this spec knows (``latest``); the
validation summary is printed, and the exit status is non-zero unless the format is valid.
bioimageio.spec alone cannot run the model: ``bioimageio test`` (bioimageio.core) does that.
"""

from __future__ import annotations

import sys


def main(argv: list[str]) -> None:
    """Validate the package named in `argv`."""
    if len(argv) != 1:
        sys.exit(f"usage: validate_with_spec.py PACKAGE.zip (got {argv})")
    from bioimageio.spec import __version__, load_description

    description = load_description(argv[0], format_version="latest")
    summary = description.validation_summary
    print(f"bioimageio.spec {__version__}: {type(description).__name__}, {summary.status}")
    if summary.status not in ("passed", "valid-format"):
        sys.exit(summary.format())


if __name__ == "__main__":
    main(sys.argv[1:])
