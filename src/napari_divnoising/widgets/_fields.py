"""magicgui input widgets built from a settings model's fields (defaults, limits, tooltips)."""

from __future__ import annotations

import math
from typing import Any

from magicgui.widgets import CheckBox, ComboBox, FloatSpinBox, SpinBox
from pydantic import BaseModel

from napari_divnoising.core.settings import field_spec

__all__ = ["setting_widget"]

#: The spin boxes' range where the model sets no limit.
_OPEN_INT, _OPEN_FLOAT = 2**31 - 1, 1e12


def _bound(value: float, open_value: float, kind: type) -> Any:
    if not math.isfinite(value):
        return kind(math.copysign(open_value, value))
    return kind(min(max(value, -open_value), open_value))


def setting_widget(
    model: type[BaseModel], name: str, *, label: str, unset_as: Any = None, **options: Any
) -> Any:
    """Return an input widget for the field `name` of the settings `model`.

    Parameters
    ----------
    model : type of pydantic.BaseModel
        The settings model.
    name : str
        The field.
    label : str
        What the form calls it.
    unset_as : object, optional
        For a field whose default is None ("derived"), the widget value that stands for
        None (e.g. 0); the tooltip says so.
    **options
        Passed to the widget (``step``, ``visible``, ...), overriding the model's; for a
        field with choices, ``choices`` may give them display names (``(text, value)``).

    Returns
    -------
    magicgui.widgets.ValueWidget
        A spin box, check box or combo box.
    """
    spec = field_spec(model, name)
    tooltip = spec.help
    value = spec.default
    if value is None and unset_as is not None:
        value = unset_as
        tooltip += f" ({unset_as}: derived automatically)"
    # Named after the field, so that a value the model refuses is reported by its label.
    common = {"name": name, "label": label, "tooltip": tooltip, **options}
    if spec.choices is not None:
        choices = common.pop("choices", list(spec.choices))
        return ComboBox(choices=choices, value=value, **common)
    if spec.kind is bool:
        return CheckBox(value=bool(value), **common)
    if spec.kind is int:
        low = 0 if unset_as == 0 else _bound(spec.minimum + spec.exclusive_minimum, _OPEN_INT, int)
        limits = {"min": low, "max": _bound(spec.maximum, _OPEN_INT, int)}
        return SpinBox(value=value, **{**limits, **common})
    low = 0.0 if unset_as == 0 else _bound(spec.minimum, _OPEN_FLOAT, float)
    limits = {"min": low, "max": _bound(spec.maximum, _OPEN_FLOAT, float)}
    return FloatSpinBox(value=value, **{**limits, **common})
