"""The list of ``divnoising`` sub-commands, in the order ``--help`` shows them."""

from . import _demo, _evaluate, _export, _noise_model, _predict, _train

COMMANDS = [_noise_model, _train, _predict, _evaluate, _export, _demo]
