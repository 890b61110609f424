"""Training the direct network: it learns the posterior mean of the model it is given."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from napari_divnoising.core.errors import SettingsError
from napari_divnoising.core.events import Progress
from napari_divnoising.core.model.config import DirectConfig
from napari_divnoising.core.model.direct import DirectNetwork
from napari_divnoising.core.prediction.direct import direct_mmse
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.training.direct import (
    DirectTraining,
    iter_train_direct,
    train_direct,
)

from ..prediction.test_sampling import DATA_MEAN, _tiny_model

TINY = {"depth": 2, "n_filters": 8, "batch_size": 8, "patch_size": 32, "seed": 0}


@pytest.fixture
def images(rng) -> list[np.ndarray]:
    yy, xx = np.mgrid[:64, :64]
    signal = DATA_MEAN + 30.0 * np.sin(xx / 7.0) * np.cos(yy / 11.0)
    return [(signal + rng.normal(0.0, 10.0, signal.shape)).astype(np.float32) for _ in range(3)]


def run(generator):
    events = []
    while True:
        try:
            events.append(next(generator))
        except StopIteration as stop:
            return stop.value, events


def test_the_direct_network_moves_towards_the_sampled_mmse(images):
    model = _tiny_model()
    config = DirectConfig(max_steps=150, samples_per_target=2, **TINY)
    trained, events = run(iter_train_direct(model, images, config=config, device="cpu"))
    network = trained.direct_network
    assert isinstance(network, DirectNetwork) and not network.training
    assert trained.direct_config == config and model.direct_network is None
    assert trained.network is model.network
    assert all(isinstance(event, Progress) for event in events)
    image = images[0]
    sampled = sample_posterior(image, model, n_samples=400, uncertainty=False, device="cpu").mmse
    direct = direct_mmse(image, network, data_mean=model.data_mean, data_std=model.data_std)
    # the untrained network is the identity: its error is the noisy image's
    before = np.mean((image - sampled) ** 2)
    after = np.mean((direct - sampled) ** 2)
    assert after < 0.5 * before, (before, after)


def test_stopping_keeps_the_best_network_so_far(images):
    model = _tiny_model()
    training = DirectTraining(model, images, config=DirectConfig(max_steps=10**6, **TINY))
    generator = training.run()
    for _ in generator:
        if training.n_steps >= 60:
            break
    generator.close()
    assert training.best_loss < float("inf")  # validated at step 50
    network = training.best_network()
    torch.testing.assert_close(
        network.state_dict()["output.weight"], training.best_state["output.weight"]
    )


def test_a_patch_size_the_networks_cannot_take_is_refused(images):
    config = DirectConfig(**{**TINY, "patch_size": 34})
    with pytest.raises(SettingsError, match="multiple of 4"):
        DirectTraining(_tiny_model(), images, config=config)


def test_tiled_and_whole_planes_agree(images):
    network = train_direct(
        _tiny_model(), images, config=DirectConfig(max_steps=20, **TINY), device="cpu"
    ).direct_network
    image = np.pad(images[0], ((0, 37), (0, 21)), mode="reflect")  # sides no multiple of 4
    normalisation = {"data_mean": DATA_MEAN, "data_std": 20.0}
    whole = direct_mmse(image, network, tile_size=256, **normalisation)
    tiled = direct_mmse(image, network, tile_size=48, **normalisation)
    assert whole.shape == image.shape and whole.dtype == np.float32
    np.testing.assert_allclose(tiled, whole, atol=1e-3 * float(np.ptp(whole)))
    with_tta = direct_mmse(image, network, tta=True, **normalisation)
    assert with_tta.shape == image.shape and np.isfinite(with_tta).all()


def test_a_model_with_its_direct_network_saves_and_loads_whole(images, tmp_path):
    from napari_divnoising.core.model_files.bundle import load_model, save_model

    config = DirectConfig(max_steps=5, **TINY)
    model = train_direct(_tiny_model(), images, config=config, device="cpu")
    loaded = load_model(save_model(model, tmp_path / "m.divnoising"))
    assert loaded.direct_config == config
    for name, value in model.direct_network.state_dict().items():
        assert torch.equal(loaded.direct_network.state_dict()[name], value)
    normalisation = {"data_mean": model.data_mean, "data_std": model.data_std}
    np.testing.assert_array_equal(
        direct_mmse(images[0], loaded.direct_network, **normalisation),
        direct_mmse(images[0], model.direct_network, **normalisation),
    )


def test_a_model_without_a_direct_network_loads_without_one(tmp_path):
    from napari_divnoising.core.model_files.bundle import load_model, save_model

    loaded = load_model(save_model(_tiny_model(), tmp_path / "m.divnoising"))
    assert loaded.direct_network is None and loaded.direct_config is None


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({"depth": 2, "n_filters": 8}, "damaged napari-divnoising model"),
        ({"depth": 5, "n_filters": 256}, r"declares a network of 1,989,600,513 parameters"),
    ],
    ids=["weights-missing", "network-too-large"],
)
def test_a_declared_direct_network_is_checked_before_anything_is_read(declared, message, tmp_path):
    import json
    import zipfile

    from napari_divnoising.core.errors import ModelFileError
    from napari_divnoising.core.model_files.bundle import load_model, save_model

    path = save_model(_tiny_model(), tmp_path / "m.divnoising")
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(members["model.json"])
    meta["direct_config"] = DirectConfig(**declared).model_dump(mode="json")
    members["model.json"] = json.dumps(meta).encode()
    crafted = tmp_path / "crafted.divnoising"
    with zipfile.ZipFile(crafted, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match=message):
        load_model(crafted)


def test_vae_then_direct_as_one_job_and_what_a_stop_keeps(images):
    from napari_divnoising.core.model.config import TrainingConfig
    from napari_divnoising.core.training.direct import TrainingWithDirect
    from napari_divnoising.core.training.trainer import Trainer

    vae = TrainingConfig(patch_size=32, batch_size=4, max_epochs=1, steps_per_epoch=2, seed=0)
    direct = DirectConfig(max_steps=60, **TINY)

    def job() -> TrainingWithDirect:
        trainer = Trainer(images, gaussian_sigma=10.0, config=vae, device="cpu")
        return TrainingWithDirect(trainer, images, direct)

    finished = run(job().run())[0]
    assert finished.direct_network is not None and len(finished.history) == 1
    stopped = job()
    generator = stopped.run()
    for _ in generator:
        if stopped.direct is not None and stopped.direct.n_steps >= 5:
            break
    generator.close()  # before the direct network's first validation (step 50)
    kept = stopped.best_model()
    assert kept.direct_network is None and len(kept.history) == 1
