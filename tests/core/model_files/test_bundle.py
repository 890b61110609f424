"""Model bundles: round trip, atomic save, clear errors, device mapping."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import torch

from napari_divnoising.core.errors import ModelFileError
from napari_divnoising.core.model.config import BUDGET_DEFAULTS, NetworkConfig, TrainingConfig
from napari_divnoising.core.model.network import build_network
from napari_divnoising.core.model.trained import TrainedModel
from napari_divnoising.core.model_files.bundle import load_model, save_model

NET = NetworkConfig(n_filters=4, z_dim=4)


@pytest.fixture
def model() -> TrainedModel:
    return TrainedModel(
        network=build_network(seed=3, **NET.network_kwargs()),
        network_config=NET,
        training_config=TrainingConfig(patch_size=16, seed=3, time_budget_minutes=2.5),
        data_mean=12.5,
        data_std=4.25,
        gaussian_sigma=3.0,
        history=[{"epoch": 1, "train_loss": 1.5, "val_loss": 1.25, "kl": 0.1}],
        provenance={"seed": 3, "training_data_shapes": [[2, 32, 32]]},
    )


def outputs(model: TrainedModel) -> torch.Tensor:
    x = torch.linspace(-1, 1, 2 * 16 * 16).reshape(2, 1, 16, 16)
    with torch.no_grad():
        mu, _ = model.network.encode(x)
        return model.network.decode(mu)


def test_round_trip(model, tmp_path):
    path = save_model(model, tmp_path / "model.divnoising")
    loaded = load_model(path)
    assert torch.equal(outputs(loaded), outputs(model))
    assert loaded.network_config == model.network_config
    assert loaded.training_config == model.training_config
    # The settings a time budget filled in stay as they were trained with.
    assert loaded.training_config.patch_size == 16
    assert loaded.training_config.learning_rate == BUDGET_DEFAULTS["learning_rate"]
    assert (loaded.data_mean, loaded.data_std, loaded.gaussian_sigma) == (12.5, 4.25, 3.0)
    assert loaded.noise_model is None
    assert loaded.history == model.history and loaded.provenance == model.provenance
    assert not loaded.network.training and loaded.device == torch.device("cpu")
    assert list(tmp_path.iterdir()) == [path]  # no temporary files left


def test_normalize_round_trip(model):
    x = np.array([0.0, 12.5, 100.0])
    np.testing.assert_allclose(model.denormalize(model.normalize(x)), x)
    assert model.normalize(12.5) == 0.0
    assert torch.equal(model.denormalize(torch.zeros(2)), torch.full((2,), 12.5))


def test_model_needs_exactly_one_likelihood(model):
    with pytest.raises(ValueError, match="exactly one likelihood"):
        TrainedModel(model.network, NET, TrainingConfig(), 0.0, 1.0)
    with pytest.raises(ValueError, match="`data_std` must be a positive number"):
        TrainedModel(model.network, NET, TrainingConfig(), 0.0, 0.0, gaussian_sigma=1.0)


def test_both_likelihoods_are_refused_as_one_settings_error(model):
    from napari_divnoising.core.errors import SettingsError

    with pytest.raises(SettingsError, match=r"exactly one likelihood.*\(got both\)"):
        TrainedModel(
            model.network,
            NET,
            TrainingConfig(),
            0.0,
            1.0,
            noise_model=object(),
            gaussian_sigma=1.0,
        )


def test_nan_weights_are_never_saved(model, tmp_path):
    with torch.no_grad():
        model.network.output.bias.fill_(float("nan"))
    with pytest.raises(ValueError, match="NaN or inf"):
        save_model(model, tmp_path / "bad.divnoising")
    assert list(tmp_path.iterdir()) == []


def test_failed_save_keeps_previous_file(model, tmp_path):
    path = save_model(model, tmp_path / "model.divnoising")
    before = path.read_bytes()

    class BrokenNoiseModel:
        def to(self, device):
            return self

        def save(self, target):
            raise OSError("disk full")

    model.noise_model, model.gaussian_sigma = BrokenNoiseModel(), None
    with pytest.raises(OSError, match="disk full"):
        save_model(model, path)
    assert path.read_bytes() == before
    assert list(tmp_path.iterdir()) == [path]


def test_missing_folder_and_file(model, tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        save_model(model, tmp_path / "nowhere" / "m.divnoising")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_model(tmp_path / "missing.divnoising")


def _rewrite(path, *, drop=(), replace=None):
    with zipfile.ZipFile(path) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    for name in drop:
        members.pop(name)
    members.update(replace or {})
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def test_corrupt_partial_and_foreign_files(model, tmp_path):
    good = save_model(model, tmp_path / "good.divnoising").read_bytes()

    garbage = tmp_path / "garbage.divnoising"
    garbage.write_bytes(b"this is not a model" * 10)
    with pytest.raises(ModelFileError, match="not a zip file, or truncated"):
        load_model(garbage)

    truncated = tmp_path / "truncated.divnoising"
    truncated.write_bytes(good[: len(good) // 2])
    with pytest.raises(ModelFileError, match="not a zip file, or truncated"):
        load_model(truncated)

    foreign = tmp_path / "foreign.zip"
    with zipfile.ZipFile(foreign, "w") as archive:
        archive.writestr("readme.txt", "hello")
    with pytest.raises(ModelFileError, match=r"not a napari-divnoising model \(no model\.json\)"):
        load_model(foreign)

    no_weights = tmp_path / "no_weights.divnoising"
    no_weights.write_bytes(good)
    _rewrite(no_weights, drop=["weights.pt"])
    with pytest.raises(ModelFileError, match="damaged napari-divnoising model"):
        load_model(no_weights)

    bad_weights = tmp_path / "bad_weights.divnoising"
    bad_weights.write_bytes(good)
    _rewrite(bad_weights, replace={"weights.pt": b"\x00" * 100})
    with pytest.raises(ModelFileError, match="damaged napari-divnoising model"):
        load_model(bad_weights)

    wrong_marker = tmp_path / "wrong.divnoising"
    wrong_marker.write_bytes(good)
    _rewrite(wrong_marker, replace={"model.json": json.dumps({"format": "something-else"})})
    with pytest.raises(ModelFileError, match="wrong format marker"):
        load_model(wrong_marker)


def test_newer_format_asks_for_update(model, tmp_path):
    path = save_model(model, tmp_path / "m.divnoising")
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("model.json"))
    meta["format_version"] = 99
    _rewrite(path, replace={"model.json": json.dumps(meta)})
    with pytest.raises(ModelFileError, match=r"version 99.*update the package"):
        load_model(path)


def test_unknown_config_field_is_refused(model, tmp_path):
    path = save_model(model, tmp_path / "m.divnoising")
    with zipfile.ZipFile(path) as archive:
        meta = json.loads(archive.read("model.json"))
    meta["network_config"]["colour"] = "red"
    _rewrite(path, replace={"model.json": json.dumps(meta)})
    with pytest.raises(ModelFileError, match=r"(?s)damaged napari-divnoising model.*colour"):
        load_model(path)


def test_weights_saved_on_a_gpu_load_on_cpu(model, tmp_path, monkeypatch):
    # Without a GPU, tag every storage as CUDA while saving: the file then looks exactly
    # like one written from a GPU, and plain torch.load refuses it on a CPU-only machine.
    monkeypatch.setattr(torch.serialization, "location_tag", lambda storage: "cuda:0")
    buffer = io.BytesIO()
    torch.save(model.network.state_dict(), buffer)
    monkeypatch.undo()
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="CUDA"):
            torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    path = save_model(model, tmp_path / "gpu.divnoising")
    _rewrite(path, replace={"weights.pt": buffer.getvalue()})
    loaded = load_model(path, device="cpu")
    assert loaded.device == torch.device("cpu")
    assert torch.equal(outputs(loaded), outputs(model))


def test_noise_model_round_trip(tmp_path):
    noise_models = pytest.importorskip("napari_divnoising.core.noise_model")
    rng = np.random.default_rng(0)
    signal = rng.uniform(10, 200, size=(4, 64, 64)).astype(np.float32)
    observation = (signal + rng.normal(0, 1, signal.shape) * np.sqrt(signal)).astype(np.float32)
    noise_model = noise_models.fit_noise_model(
        signal, observation, n_iterations=20, batch_size=2000
    )
    model = TrainedModel(
        network=build_network(seed=1, **NET.network_kwargs()),
        network_config=NET,
        training_config=TrainingConfig(),
        data_mean=100.0,
        data_std=50.0,
        noise_model=noise_model,
    )
    loaded = load_model(save_model(model, tmp_path / "nm.divnoising"))
    obs, sig = torch.tensor([[50.0, 120.0]]), torch.tensor([[55.0, 110.0]])
    torch.testing.assert_close(
        loaded.noise_model.log_likelihood(obs, sig), noise_model.log_likelihood(obs, sig)
    )
    assert loaded.gaussian_sigma is None


def test_missing_device_is_reported_as_such(model, tmp_path, monkeypatch):
    path = save_model(model, tmp_path / "m.divnoising")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="asks for a CUDA GPU"):
        load_model(path, device="cuda")
