"""The ``divnoising`` command line: the whole DivNoising path for workstations and clusters.

Every sub-command validates its input first and exits with status 2 and a one-line
reason on bad input; long steps show a progress bar on stderr.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence

from ._commands import COMMANDS
from ._progress import CommandError, show_warnings_briefly
from ._signals import Terminated, stopping_like_ctrl_c

__all__ = ["main"]


def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser with one sub-parser per command.

    Returns
    -------
    argparse.ArgumentParser
        The ``divnoising`` parser.
    """
    parser = argparse.ArgumentParser(
        prog="divnoising",
        description="Unsupervised diversity denoising (DivNoising) of microscopy images.",
    )
    parser.add_argument(
        "--version",
        action=_VersionAction,
        help="show the version and PyTorch's build, then exit",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        0 on success, 2 on bad input, 130 when interrupted by Ctrl-C, 128 + the signal's
        number when stopped by SIGTERM or SIGHUP (143, 129). A training run stopped either
        way saves the best model so far and returns 0.
    """
    parser = build_parser()
    arguments = parser.parse_args(argv)
    _say_if_torch_does_not_suit()
    try:
        with warnings.catch_warnings(), stopping_like_ctrl_c():
            show_warnings_briefly()
            arguments.run(arguments)
    except CommandError as err:
        print(f"divnoising {arguments.command}: error: {err}", file=sys.stderr)
        return 2
    except Terminated as stop:
        print(f"divnoising {arguments.command}: stopped by {stop.signal_name}", file=sys.stderr)
        return stop.exit_status
    except KeyboardInterrupt:
        print(f"divnoising {arguments.command}: interrupted", file=sys.stderr)
        return 130
    return 0


class _VersionAction(argparse.Action):
    """``--version``: ours and the PyTorch build (read without importing torch)."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs) -> None:
        super().__init__(option_strings, dest, nargs=0, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        from .. import __version__
        from ..core.torch_build import inspect_torch_build

        build = inspect_torch_build()
        torch = build.describe() if build else "PyTorch not installed"
        print(f"{parser.prog} {__version__} ({torch})")  # on stdout, as argparse's own
        parser.exit()


def _say_if_torch_does_not_suit() -> None:
    """One line on stderr when the PyTorch build does not suit this machine."""
    from ..core.torch_build import inspect_torch_build, torch_build_advice

    advice = torch_build_advice(inspect_torch_build())
    if advice:
        print(f"divnoising: note: {advice}", file=sys.stderr)
