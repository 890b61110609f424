"""The DivNoising VAE: reference size, shapes, precision, seeding."""

from __future__ import annotations

import pytest
import torch

from napari_divnoising.core.model.network import DivNoisingVAE, build_network


def test_reference_network_has_about_261k_parameters():
    network = DivNoisingVAE()
    assert sum(p.numel() for p in network.parameters()) == 261_281
    assert network.size_multiple == 4
    assert not any(isinstance(m, torch.nn.modules.batchnorm._BatchNorm) for m in network.modules())


@pytest.mark.parametrize(("depth", "side"), [(1, 6), (2, 12), (3, 24)])
def test_shapes(depth, side):
    network = build_network(seed=0, depth=depth, n_filters=4, z_dim=3)
    x = torch.zeros(2, 1, side, side + 2**depth)
    reconstruction, mu, logvar = network(x)
    assert reconstruction.shape == x.shape
    factor = 2**depth
    assert mu.shape == logvar.shape == (2, 3, side // factor, side // factor + 1)
    assert network.decode(mu).shape == x.shape
    assert network.config_dict() == {
        "depth": depth,
        "n_filters": 4,
        "z_dim": 3,
        "n_conv_per_level": 2,
    }


def test_output_stays_float32_under_bf16_autocast():
    network = build_network(seed=0, n_filters=4, z_dim=4)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        reconstruction, mu, _ = network(torch.randn(1, 1, 8, 8))
    assert reconstruction.dtype == torch.float32
    assert mu.dtype == torch.bfloat16


def test_latent_draws_follow_the_generator():
    mu, logvar = torch.zeros(2, 3, 4, 4), torch.full((2, 3, 4, 4), -2.0)
    a = DivNoisingVAE.sample_latent(mu, logvar, generator=torch.Generator().manual_seed(1))
    b = DivNoisingVAE.sample_latent(mu, logvar, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert a.std().item() == pytest.approx(torch.exp(torch.tensor(-1.0)).item(), rel=0.3)


def test_build_network_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(5)
    expected = torch.rand(2)
    torch.manual_seed(5)
    a, b = build_network(seed=1, n_filters=4), build_network(seed=1, n_filters=4)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert torch.equal(torch.rand(2), expected)


@pytest.mark.parametrize("name", ["depth", "n_filters", "z_dim", "n_conv_per_level"])
@pytest.mark.parametrize("value", [0, 2.5])
def test_bad_architecture(name, value):
    with pytest.raises(ValueError, match=f"`{name}` must be an integer ≥ 1"):
        DivNoisingVAE(**{name: value})
