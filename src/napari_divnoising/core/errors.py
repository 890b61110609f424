"""Errors a user can fix, apart from bugs.

Everything the core raises because of the user's input, settings or files derives from
:class:`DivNoisingError`. The command line prints such an error as one line and exits
with status 2; the GUI shows it as a notification. Any other exception is a bug: the
command line shows its traceback, the GUI asks the user to report it.

Each class also derives from the built-in exception a caller would expect (``ValueError``
for bad input, ``RuntimeError`` for a run that could not succeed), so ``except
ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "DivNoisingError",
    "InputError",
    "ModelFileError",
    "OutputError",
    "RunFailedError",
    "SettingsError",
]


class DivNoisingError(Exception):
    """Base class: something the user can fix, described in one line."""


class InputError(DivNoisingError, ValueError):
    """An image, stack or array cannot be used (dimensions, values, size, dtype)."""


class SettingsError(DivNoisingError, ValueError):
    """A setting is out of its allowed range, or settings contradict each other."""


class ModelFileError(DivNoisingError, ValueError):
    """A model or noise-model file is missing, damaged, foreign or from a newer version."""


class OutputError(DivNoisingError, OSError):
    """An output cannot be written where asked (it exists, collides, the disk is full, ...)."""


class RunFailedError(DivNoisingError, RuntimeError):
    """A fit or a training ran but could not produce a usable result (e.g. NaN losses)."""


#: House-style wording of pydantic's error types ("`n_gaussian` must be ≥ 1 (got 0)").
_WORDING = {
    "greater_than_equal": "must be ≥ {ge}",
    "greater_than": "must be > {gt}",
    "less_than_equal": "must be ≤ {le}",
    "less_than": "must be < {lt}",
    "literal_error": "must be one of {expected}",
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "int_type": "must be a whole number",
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "finite_number": "must be a finite number",
    "bool_parsing": "must be true or false",
    "extra_forbidden": "is not a known setting",
    "missing": "is required",
}


def _describe(problem: dict, label: str) -> str:
    kind = problem.get("type", "")
    context = problem.get("ctx") or {}
    if kind in _WORDING:
        text = f"{label} " + _WORDING[kind].format(**{k: str(v) for k, v in context.items()})
    else:
        message = str(problem.get("msg", "is not valid")).removeprefix("Value error, ")
        return message if kind == "value_error" else f"{label}: {message}"
    if kind in ("missing", "extra_forbidden"):
        return text
    value = problem.get("input")
    value = value.item() if hasattr(value, "item") and getattr(value, "ndim", 1) == 0 else value
    return f"{text} (got {value!r})"


def settings_error_from(error: Exception, *, names: dict[str, str] | None = None) -> SettingsError:
    """Turn a pydantic ``ValidationError`` into a one-line :class:`SettingsError`.

    Parameters
    ----------
    error : pydantic.ValidationError
        The validation error of a settings model.
    names : dict, optional
        How the user knows each field (``{"time_budget_minutes": "--time-budget"}``);
        fields not listed are named as in the settings model, between backticks.

    Returns
    -------
    SettingsError
        For example "--time-budget must be > 0 (got -1.0)"; one part per bad field.
    """
    names = names or {}
    parts = []
    for problem in error.errors():  # type: ignore[attr-defined]
        field = ".".join(str(part) for part in problem.get("loc", ()))
        parts.append(_describe(problem, names.get(field, f"`{field}`")))
    return SettingsError("; ".join(parts))
