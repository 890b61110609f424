"""What a settings field allows, read from its pydantic model, for forms and command lines.

Every step's settings are a pydantic model with limits on its fields (``TrainingConfig``,
``NoiseModelSettings``, ``SamplingConfig``, ...). The dock widgets and the command line
build their inputs from :func:`field_spec`, so a default, a limit or a help text is written
once, in the model.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

__all__ = ["COMMAND_LINE_DEFAULT", "FieldSpec", "field_spec"]

#: Key of a field's ``json_schema_extra`` that declares its default on the command line,
#: where a front end needs another than the model's (one more file per image, say).
COMMAND_LINE_DEFAULT = "command_line_default"


@dataclass(frozen=True)
class FieldSpec:
    """One settings field, as an input widget or a command-line option needs it.

    Attributes
    ----------
    name : str
        The field's name.
    kind : type
        ``int``, ``float``, ``bool`` or ``str``.
    default : object
        The model's default (None where the model derives the value).
    minimum, maximum : float
        Allowed range (``-inf``/``inf`` when open).
    exclusive_minimum : bool
        Whether `minimum` itself is excluded (a ``gt`` limit).
    choices : tuple or None
        The allowed values of a ``Literal`` field.
    optional : bool
        Whether None is allowed ("derive it").
    help : str
        The field's docstring, in one paragraph.
    command_line_default : object
        The default of the command-line option: `default`, unless the model declares
        another for the command line (``json_schema_extra={COMMAND_LINE_DEFAULT: …}``).
    """

    name: str
    kind: type
    default: Any
    minimum: float
    maximum: float
    exclusive_minimum: bool
    choices: tuple[Any, ...] | None
    optional: bool
    help: str
    command_line_default: Any = None

    @property
    def summary(self) -> str:
        """The first sentence of the help text."""
        first = self.help.split(". ")[0].rstrip(".")
        return first + "." if first else ""


def _unwrap(annotation: Any) -> tuple[Any, bool]:
    """Return the annotation without ``None`` and whether None was allowed."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        members = [arg for arg in typing.get_args(annotation) if arg is not type(None)]
        optional = len(members) < len(typing.get_args(annotation))
        return (members[0] if len(members) == 1 else annotation), optional
    return annotation, False


def field_spec(model: type[BaseModel], name: str) -> FieldSpec:
    """Describe the field `name` of the settings `model`.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        A settings model (defined with ``use_attribute_docstrings=True``).
    name : str
        One of its fields.

    Returns
    -------
    FieldSpec
        Type, default, limits, choices and help of the field.
    """
    info = model.model_fields[name]
    annotation, optional = _unwrap(info.annotation)
    choices = None
    if typing.get_origin(annotation) is Literal:
        choices = typing.get_args(annotation)
        kind: type = type(choices[0])
    else:
        kind = annotation if annotation in (int, float, bool, str) else str
    minimum, maximum, exclusive = -math.inf, math.inf, False
    for limit in info.metadata:
        if hasattr(limit, "ge"):
            minimum = float(limit.ge)
        if hasattr(limit, "gt"):
            minimum, exclusive = float(limit.gt), True
        if hasattr(limit, "le"):
            maximum = float(limit.le)
        if hasattr(limit, "lt"):
            maximum = float(limit.lt)
    help_text = " ".join((info.description or "").split())
    default = info.get_default(call_default_factory=True)
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    return FieldSpec(
        name=name,
        kind=kind,
        default=default,
        minimum=minimum,
        maximum=maximum,
        exclusive_minimum=exclusive,
        choices=choices,
        optional=optional,
        help=help_text,
        command_line_default=extra.get(COMMAND_LINE_DEFAULT, default),
    )
