"""Command-line options built from a settings model's fields, and validated through it."""

from __future__ import annotations

import argparse
import math
from typing import Any

from pydantic import BaseModel

__all__ = ["add_setting", "settings_from"]

#: Attribute of the parser's namespace that maps each settings field to its flag.
_FLAGS = "_setting_flags"


def _number(kind: type, flag: str):
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            noun = "a whole number" if kind is int else "a number"
            raise argparse.ArgumentTypeError(f"must be {noun} (got {text!r})") from None
        if kind is float and not math.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a finite number (got {text!r})")
        return value

    parse.__name__ = flag  # argparse names the option in its message
    return parse


def add_setting(
    parser: argparse.ArgumentParser,
    model: type[BaseModel],
    name: str,
    flag: str,
    *,
    help: str | None = None,
    **options: Any,
) -> None:
    """Add the option `flag` for the field `name` of `model`.

    The help text and the default shown come from the model. An option the user does not
    give stays unset (None), so the model's own default (or derived value) applies.

    Parameters
    ----------
    parser : argparse.ArgumentParser
        The sub-command's parser.
    model : type of pydantic.BaseModel
        The settings model.
    name : str
        The field.
    flag : str
        The option, e.g. ``"--time-budget"``.
    help : str, optional
        Help text (default: the first sentence of the field's docstring).
    **options
        Passed to ``add_argument`` (``metavar``, ...).
    """
    from ..core.settings import field_spec

    spec = field_spec(model, name)
    text = help or spec.summary
    default = spec.command_line_default
    if spec.kind is bool and default is not None:
        text += f" (default: {'yes' if default else 'no'})"
    elif default is not None:
        text += (
            f" (default: {default:g})" if isinstance(default, float) else f" (default: {default})"
        )
    if spec.choices is not None:
        options.setdefault("choices", list(spec.choices))
    elif spec.kind is bool:
        options.setdefault("action", argparse.BooleanOptionalAction)
    elif spec.kind in (int, float):
        options.setdefault("type", _number(spec.kind, flag))
    parser.add_argument(flag, dest=name, default=None, help=text.replace("%", "%%"), **options)
    flags = parser.get_default(_FLAGS) or {}
    parser.set_defaults(**{_FLAGS: {**flags, name: flag}})


def settings_from(
    arguments: argparse.Namespace, model: type[BaseModel], **fixed: Any
) -> BaseModel:
    """Build `model` from the options given on the command line (and `fixed` values).

    Raises
    ------
    pydantic.ValidationError
        For a value out of range; ``user_errors(setting_flags(arguments))`` names the flag.
    """
    from ..core.settings import field_spec

    given = {}
    for name in setting_flags(arguments):
        if name not in model.model_fields:
            continue
        value = getattr(arguments, name)
        spec = field_spec(model, name)
        if value is None and spec.command_line_default != spec.default:
            value = spec.command_line_default  # a default declared for the command line
        if value is not None:
            given[name] = value
    return model(**{**given, **fixed})


def setting_flags(arguments: argparse.Namespace) -> dict[str, str]:
    """Return the field -> flag map of the options added with :func:`add_setting`."""
    return dict(getattr(arguments, _FLAGS, None) or {})
