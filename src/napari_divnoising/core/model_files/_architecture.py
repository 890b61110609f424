"""The architecture source shipped in a bioimage.io package: one file that needs only torch.

bioimage.io tools rebuild a ``pytorch_state_dict`` model from a Python file and a callable
in it. The file is made from this package's own network module (so the weights fit it by
construction), with the one import it makes from this package replaced, and the wrapper
below appended: the posterior mean of a fixed number of samples drawn with a fixed seed.
"""

from __future__ import annotations

import inspect

from ..model import network

__all__ = ["WRAPPER_NAME", "architecture_source"]

#: The callable bioimage.io tools instantiate.
WRAPPER_NAME = "DivNoisingMMSE"

_WRAPPER = '''

class DivNoisingMMSE(nn.Module):
    """The DivNoising MMSE: the mean of `n_samples` posterior samples, seed `seed`.

    Works on normalised images ``(B, 1, H, W)``, ``H`` and ``W`` multiples of
    ``2**depth``; the package's pre- and post-processing convert from and to raw units.
    """

    def __init__(self, n_samples: int, seed: int, **network_kwargs) -> None:
        super().__init__()
        self.network = DivNoisingVAE(**network_kwargs)
        self.n_samples, self.seed = int(n_samples), int(seed)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mu, logvar = self.network.encode(x)
        std = torch.exp(0.5 * logvar)
        generator = torch.Generator(device=x.device).manual_seed(self.seed)
        total = torch.zeros_like(x)
        for _ in range(self.n_samples):
            noise = torch.randn(mu.shape, generator=generator, device=x.device, dtype=mu.dtype)
            total = total + self.network.decode(mu + std * noise)
        return total / self.n_samples
'''


def architecture_source() -> str:
    """Return the self-contained source of :data:`WRAPPER_NAME` and the network it wraps."""
    source = inspect.getsource(network)
    own_import = "from ..errors import SettingsError\n"
    if own_import not in source:  # pragma: no cover - guards a refactor of network.py
        raise RuntimeError("network.py changed its imports; update the package's architecture")
    source = source.replace(own_import, "SettingsError = ValueError\n")
    return source + _WRAPPER
