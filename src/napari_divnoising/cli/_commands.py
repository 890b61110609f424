"""The list of ``divnoising`` sub-commands, in the order ``--help`` shows them."""

from . import _demo, _noise_model

COMMANDS = [_noise_model, _demo]
