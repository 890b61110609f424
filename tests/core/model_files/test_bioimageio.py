"""bioimage.io export: the Model Zoo's own test passes, ours reads it back, bad input is named."""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import yaml

from napari_divnoising.cli import main
from napari_divnoising.core.errors import InputError, ModelFileError, OutputError
from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
from napari_divnoising.core.model_files.bioimageio import export_bioimageio
from napari_divnoising.core.model_files.bundle import load_model, save_model
from napari_divnoising.core.noise_model.recipe import make_noise_model
from napari_divnoising.core.noise_model.settings import NoiseModelSettings
from napari_divnoising.core.prediction.sampling import sample_posterior
from napari_divnoising.core.sample_data import make_sample_data
from napari_divnoising.core.training.trainer import train

pytest.importorskip("bioimageio.core")  # the bioimageio extra

TINY = TrainingConfig(patch_size=32, batch_size=4, max_epochs=1, steps_per_epoch=2, seed=0)
NETWORK = NetworkConfig(depth=1, n_filters=8, z_dim=4)


@pytest.fixture(scope="module")
def data():
    return make_sample_data(shape=(64, 64), n_frames=3, n_calibration_frames=12)


@pytest.fixture(scope="module")
def model(data):
    settings = NoiseModelSettings(n_iterations=20)
    noise_model = make_noise_model(data.calibration, settings=settings).noise_model
    return train(data.noisy, noise_model=noise_model, config=TINY, network_config=NETWORK)


@pytest.fixture(scope="module")
def package(model, data, tmp_path_factory):
    path = tmp_path_factory.mktemp("zoo") / "divnoising.zip"
    return export_bioimageio(model, data.noisy, path, license="CC-BY-4.0", authors=["A. Person"])


@pytest.mark.slow
def test_the_model_zoo_test_passes_on_the_package(package):
    from bioimageio.core import test_model

    summary = test_model(str(package))
    assert summary.status == "passed", summary.format()


def test_the_package_describes_itself(package):
    with zipfile.ZipFile(package) as archive:
        rdf = yaml.safe_load(archive.read("rdf.yaml"))
        names = archive.namelist()
    assert rdf["format_version"].startswith("0.5") and rdf["license"] == "CC-BY-4.0"
    assert rdf["authors"][0]["name"] == "A. Person"
    assert "2006.06072" in rdf["cite"][0]["doi"]
    assert list(rdf["weights"]) == ["pytorch_state_dict"]
    steps = [axis["size"].get("step") for axis in rdf["inputs"][0]["axes"][2:]]
    assert steps == [2, 2]  # depth 1: sides in steps of 2**depth
    attached = {entry["source"] for entry in rdf["attachments"]}
    assert {"model.divnoising", "training.json"} <= attached
    assert any(name.endswith(".npz") for name in attached)  # the noise model
    assert rdf["covers"] and all(source in names for source in attached)


def test_exported_then_imported_model_gives_the_same_mmse(package, model, data):
    imported = load_model(package)
    options = {"n_samples": 5, "seed": 3, "device": "cpu"}
    np.testing.assert_array_equal(
        sample_posterior(data.noisy[0], imported, **options).mmse,
        sample_posterior(data.noisy[0], model, **options).mmse,
    )


def test_predict_reads_a_package_with_the_full_posterior(package, data, tmp_path):
    save = tmp_path / "noisy.npy"
    np.save(save, data.noisy[0])
    argv = ["predict", str(package), str(save), "--out", str(tmp_path / "out"), "--quiet"]
    assert main([*argv, "--samples", "3", "--map", "--uncertainty"]) == 0
    assert (tmp_path / "out" / "noisy_map.tif").is_file()


def test_a_package_from_another_tool_is_refused_clearly(tmp_path):
    path = tmp_path / "other.zip"
    rdf = {"name": "N2V BSD68", "type": "model", "weights": {"torchscript": {"source": "w.pt"}}}
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("rdf.yaml", yaml.safe_dump(rdf))
    with pytest.raises(ModelFileError, match=r"'N2V BSD68'.* not made by napari-divnoising"):
        load_model(path)


def test_a_model_without_noise_model_or_test_data_is_refused(model, data, tmp_path):
    gaussian = train(data.noisy, gaussian_sigma=10.0, config=TINY, network_config=NETWORK)
    options = {"license": "MIT", "authors": ["A"]}
    with pytest.raises(InputError, match="has no noise model"):
        export_bioimageio(gaussian, data.noisy, tmp_path / "g.zip", **options)
    with pytest.raises(InputError, match="no test data"):
        export_bioimageio(model, None, tmp_path / "g.zip", **options)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match="cannot write"):
        export_bioimageio(model, data.noisy, blocker / "p.zip", **options)
    assert not (tmp_path / "g.zip").exists()


def test_the_command_needs_a_license_and_writes_the_package(model, data, tmp_path, capsys):
    model_path = save_model(model, tmp_path / "m.divnoising")
    image = tmp_path / "noisy.npy"
    np.save(image, data.noisy)
    argv = ["export-bioimageio", str(model_path), "--out", str(tmp_path / "p.zip")]
    assert main([*argv, "--test-image", str(image), "--author", "A"]) == 2
    assert "give --license" in capsys.readouterr().err
    assert main([*argv, "--test-image", str(image), "--author", "A", "--license", "MIT"]) == 0
    assert load_model(tmp_path / "p.zip").network_config == model.network_config
