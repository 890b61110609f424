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
        "res_blocks": 0,
    }


@pytest.mark.parametrize("depth", [1, 2])
def test_gated_residual_blocks_sit_at_the_latent_resolution(depth):
    plain = build_network(seed=0, depth=depth, n_filters=4, z_dim=3)
    deeper = build_network(seed=0, depth=depth, n_filters=4, z_dim=3, res_blocks=2)
    width = 4 * 2 ** (depth - 1)
    # Two 3×3 convolutions and a 1×1 gate of twice the width, in the encoder and the decoder.
    per_block = 2 * (9 * width * width + width) + (2 * width * width + 2 * width)
    count = lambda net: sum(p.numel() for p in net.parameters())  # noqa: E731
    assert count(deeper) - count(plain) == 2 * 2 * per_block
    x = torch.randn(2, 1, 4 * 2**depth, 2 * 2**depth)
    reconstruction, mu, _ = deeper(x)
    assert reconstruction.shape == x.shape
    assert mu.shape[-2:] == (4, 2)
    assert deeper.config_dict()["res_blocks"] == 2
    features = {}
    for name, module in deeper.named_modules():
        if type(module).__name__ == "GatedResidualBlock":
            # A hook that returns a value replaces the output: store, return None.
            module.register_forward_hook(lambda m, i, o, n=name: features.__setitem__(n, o.shape))
    deeper(x)
    assert len(features) == 4
    assert {shape[-2:] for shape in features.values()} == {mu.shape[-2:]}


def test_a_residual_block_learns_what_its_input_lacks():
    # The gate must let gradients through: a few steps fit a target a plain identity misses.
    network = build_network(seed=0, depth=1, n_filters=4, z_dim=2, res_blocks=1)
    x = torch.randn(4, 1, 8, 8)
    target = torch.nn.functional.avg_pool2d(x, 3, stride=1, padding=1)
    optimiser = torch.optim.Adam(network.parameters(), lr=1e-2)
    losses = []
    for _ in range(60):
        optimiser.zero_grad()
        loss = torch.mean((network.decode(network.encode(x)[0]) - target) ** 2)
        loss.backward()
        optimiser.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]
    block_grads = [
        p.grad for n, p in network.named_parameters() if "gate" in n and p.grad is not None
    ]
    assert block_grads and all(torch.count_nonzero(g) > 0 for g in block_grads)


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


@pytest.mark.parametrize("value", [-1, 1.5])
def test_bad_residual_block_count(value):
    with pytest.raises(ValueError, match="`res_blocks` must be an integer ≥ 0"):
        DivNoisingVAE(res_blocks=value)
