"""Catalogue rows: every reader of a foreign file, fed hostile metadata, answers in one line.

A small seeded generator makes JSON-like values of the wrong kind (a list where a mapping
belongs, strings for numbers, empty lists, deep nesting, huge or negative numbers, NaN,
long and unicode strings) and puts them in valid files: a model bundle's ``model.json``, a
noise model's arrays and metadata, a bioimage.io ``rdf.yaml``, a zarr ``zarr.json``, OME-Zarr
attributes, TIFF and ``.npy`` headers. Each case must load, or raise one of the project's
errors (never ``AttributeError``, ``KeyError``, ``TypeError``, ``RecursionError``, …), in
under :data:`SECONDS` and :data:`MEBIBYTES`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import json
import math
import random
import resource
import time
import tracemalloc
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

from napari_divnoising.core.errors import DivNoisingError
from napari_divnoising.core.io import check_planes, read_image, read_planes, write_tiff
from napari_divnoising.core.model.config import NetworkConfig, TrainingConfig
from napari_divnoising.core.model.network import build_network
from napari_divnoising.core.model.trained import TrainedModel
from napari_divnoising.core.model_files import load_model, load_noise_model, save_model
from napari_divnoising.core.noise_model import GaussianMixtureNoiseModel
from napari_divnoising.core.stacks import open_stack

#: Each case, also on a busy machine (they take milliseconds).
SECONDS = 30
#: Python and numpy allocations (tracemalloc), and growth of the peak resident size.
MEBIBYTES = 1024
#: Planes read after a stack opens are at most this big (the limits allow far larger
#: planes on a large machine; reading one is not what is tested here).
READ_PIXELS = 2**20

pytestmark = pytest.mark.timeout(120)


class Hostile:
    """Seeded hostile JSON-like values, and documents with some of their values replaced."""

    NUMBERS = (0, 1, -1, 2, 3, 7, 64, -(10**9), 2**31, 2**63, 10**12, 10**300, 0.5, -0.0,
               1e300, -1e300, math.nan, math.inf, -math.inf, True, False)  # fmt: skip
    STRINGS = ("", "0", "12", "-3", "NaN", "1e999", "y", "x", "zarr.json", "../..", "\x00",
               "é" * 3, "🦠", "a" * 10_000, "model.json", "0/0")  # fmt: skip

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def value(self, depth: int = 0) -> Any:
        """Return one hostile value (nested at most a few levels, or very deep)."""
        kind = self.rng.choice("nnssllddNeE" if depth < 3 else "nns")
        if kind == "n":
            return self.rng.choice(self.NUMBERS)
        if kind == "s":
            return self.rng.choice(self.STRINGS)
        if kind == "l":
            return [self.value(depth + 1) for _ in range(self.rng.choice((0, 1, 2, 5)))]
        if kind == "d":
            keys = (*self.STRINGS[:9], "name", "path", "type", "axes", "datasets", "scale")
            return {self.rng.choice(keys): self.value(depth + 1) for _ in range(3)}
        if kind == "N":  # nesting far deeper than any real file
            inner: Any = self.rng.choice(self.NUMBERS)
            for _ in range(self.rng.choice((70, 500))):
                inner = [inner] if self.rng.random() < 0.5 else {"a": inner}
            return inner
        return [] if kind == "e" else {}

    def mutate(self, document: Any, changes: int | None = None) -> Any:
        """Return a copy of `document` with one to three values replaced, removed or wrapped."""
        document = copy.deepcopy(document)
        for _ in range(changes or self.rng.randint(1, 3)):
            paths = list(_paths(document))
            path = self.rng.choice(paths)
            if not path:
                return self.value()
            parent = document
            for key in path[:-1]:
                parent = parent[key]
            action = self.rng.random()
            if action < 0.15 and isinstance(parent, dict):
                del parent[path[-1]]
            elif action < 0.3:
                parent[path[-1]] = [parent[path[-1]]]
            else:
                parent[path[-1]] = self.value()
        return document


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    yield prefix
    if isinstance(value, (dict, list)):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in list(items)[:50]:
            yield from _paths(child, (*prefix, key))


@pytest.fixture(scope="module")
def figures() -> Iterator[dict[str, Any]]:
    """Every case's time and memory; printed at the end (``pytest -s``)."""
    tracemalloc.start()
    record: dict[str, Any] = {"cases": 0, "seconds": 0.0, "worst_s": 0.0, "worst_mib": 0.0}
    start = time.monotonic()
    yield record
    tracemalloc.stop()
    print(
        f"\nfuzz: {record['cases']} cases in {time.monotonic() - start:.1f} s; worst case "
        f"{record['worst_s']:.2f} s, {record['worst_mib']:.1f} MiB"
    )


def _max_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def check_case(figures: dict[str, Any], what: str, call: Callable[[], Any]) -> None:
    """Run `call`: success or a DivNoisingError, in time and memory; anything else fails."""
    tracemalloc.reset_peak()
    rss, start = _max_rss_mib(), time.monotonic()
    try:
        call()
    except DivNoisingError as err:
        assert "\n" not in str(err).strip(), f"{what}: a message of several lines: {err}"
    except Exception as err:
        raise AssertionError(f"{what}: {type(err).__name__}: {str(err)[:300]}") from err
    seconds = time.monotonic() - start
    mib = max(tracemalloc.get_traced_memory()[1] / 2**20, _max_rss_mib() - rss)
    figures["cases"] += 1
    figures["worst_s"] = max(figures["worst_s"], seconds)
    figures["worst_mib"] = max(figures["worst_mib"], mib)
    assert seconds < SECONDS, f"{what}: took {seconds:.1f} s"
    assert mib < MEBIBYTES, f"{what}: needed {mib:.0f} MiB"


def _short(value: Any) -> str:
    return repr(value)[:200]


# --- model bundles and bioimage.io packages ---------------------------------------------


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    """A tiny valid model bundle with a Gaussian mixture noise model."""
    network_config = NetworkConfig(depth=1, n_filters=2, z_dim=2)
    weight = np.random.default_rng(0).normal(size=(9, 2)).astype(np.float32)
    model = TrainedModel(
        network=build_network(seed=0, **network_config.network_kwargs()),
        network_config=network_config,
        training_config=TrainingConfig(patch_size=16, seed=0),
        data_mean=10.0,
        data_std=2.0,
        noise_model=GaussianMixtureNoiseModel(weight, min_signal=0, max_signal=50, min_sigma=1),
        history=[{"epoch": 1, "train_loss": 1.0, "val_loss": 1.0}],
        provenance={"seed": 0},
    )
    return save_model(model, tmp_path_factory.mktemp("bundle") / "model.divnoising")


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _write_zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return path


@pytest.mark.parametrize("seed", range(4))
def test_hostile_model_json_is_refused_in_one_line(bundle, tmp_path, figures, seed):
    hostile, members = Hostile(seed), _members(bundle)
    meta = json.loads(members["model.json"])
    for case in range(20):
        mutated = hostile.mutate(meta)
        text = json.dumps(mutated).encode()
        path = _write_zip(tmp_path / f"{case}.divnoising", members | {"model.json": text})
        check_case(figures, f"model.json {_short(mutated)}", lambda path=path: load_model(path))


@pytest.mark.parametrize("seed", range(2))
def test_hostile_bioimageio_description_is_refused_in_one_line(bundle, tmp_path, figures, seed):
    hostile = Hostile(100 + seed)
    rdf = {
        "format_version": "0.5.3",
        "type": "model",
        "name": "DivNoising",
        "weights": {"pytorch_state_dict": {"source": "weights.pt"}},
        "config": {"napari_divnoising": {"bundle": "model.divnoising"}},
        "inputs": [{"id": "raw", "axes": [{"type": "batch"}, {"id": "y", "size": 64}]}],
    }
    for case in range(20):
        mutated = hostile.mutate(rdf)
        try:
            text = yaml.safe_dump(mutated, allow_unicode=True)
        except RecursionError:  # deeper than PyYAML itself writes: keep the nesting shallow
            text = "config: " + "[" * 5000 + "]" * 5000
        members = {"rdf.yaml": text.encode(), "model.divnoising": bundle.read_bytes()}
        path = _write_zip(tmp_path / f"{case}.zip", members)
        check_case(figures, f"rdf.yaml {_short(mutated)}", lambda path=path: load_model(path))


# --- noise models -----------------------------------------------------------------------


def _hostile_array(hostile: Hostile) -> Any:
    rng = hostile.rng
    choice = rng.randrange(7)
    if choice == 0:
        value = hostile.value()
        try:
            array = np.array(value)
        except (ValueError, RecursionError):  # ragged or too deep for numpy itself
            return np.array("text")
        return np.array(json.dumps(value)) if array.dtype.hasobject else array
    if choice == 1:
        return np.zeros((0,) * rng.randint(1, 3), np.float32)
    if choice == 2:
        return np.full(rng.choice([(), (9,), (9, 2), (3, 4, 4), (2, 2, 2, 2)]), math.nan)
    if choice == 3:
        return np.ones((9, 2), rng.choice([np.complex64, np.bool_, np.int8, np.uint64]))
    if choice == 4:
        return np.array(rng.choice(Hostile.NUMBERS[:12]), dtype=object).astype(str)
    if choice == 5:
        return -np.ones(rng.choice([(3, 2, 2), (3, 8, 8), (1,)]))
    return np.array(json.dumps(hostile.value(), allow_nan=True))


@pytest.mark.parametrize("seed", range(4))
def test_hostile_noise_model_arrays_are_refused_in_one_line(tmp_path, figures, seed):
    hostile = Hostile(200 + seed)
    arrays = {
        "trained_weight": np.random.default_rng(0).normal(size=(9, 2)).astype(np.float32),
        "min_signal": np.array(0.0),
        "max_signal": np.array(50.0),
        "min_sigma": np.array(1.0),
        "metadata": np.array(json.dumps({"kind": "gmm", "settings": {"n_gaussian": 3}})),
    }
    histogram = np.stack([np.full((4, 4), 0.25), np.tile(np.arange(4.0), (4, 1)),
                          np.tile(np.arange(1.0, 5.0), (4, 1))])  # fmt: skip
    for case in range(15):
        base = dict(arrays) if case % 3 else {"histogram": histogram, "min_signal": 0.0}
        for key in hostile.rng.sample(sorted(base), hostile.rng.randint(1, 2)):
            base[key] = _hostile_array(hostile)
        if hostile.rng.random() < 0.2:
            base[hostile.rng.choice(["histogram", "trained_weight", "extra"])] = np.ones(3)
        path = tmp_path / f"{case}.npz"
        np.savez(path, **base)
        described = {key: np.asarray(value).shape for key, value in base.items()}
        check_case(figures, f"noise model {described}", lambda p=path: load_noise_model(p))


# --- zarr, OME-Zarr ------------------------------------------------------------------------


def _zarr_array_metadata() -> dict[str, Any]:
    return {
        "zarr_format": 3,
        "node_type": "array",
        "shape": [2, 16, 16],
        "data_type": "uint16",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": [1, 16, 16]}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {},
        "dimension_names": ["z", "y", "x"],
    }


def _open_and_read(path: Path) -> None:
    stack = open_stack(path)
    if stack.n_planes and math.prod(stack.plane_shape) <= READ_PIXELS:
        stack.read_plane(0)


@pytest.mark.parametrize("seed", range(4))
def test_hostile_zarr_json_is_refused_in_one_line(tmp_path, figures, seed):
    hostile = Hostile(300 + seed)
    for case in range(12):
        mutated = hostile.mutate(_zarr_array_metadata())
        store = tmp_path / f"{case}.zarr"
        store.mkdir()
        (store / "zarr.json").write_text(json.dumps(mutated), encoding="utf-8")
        check_case(figures, f"zarr.json {_short(mutated)}", lambda s=store: _open_and_read(s))


@pytest.fixture(scope="module")
def ome_image(tmp_path_factory) -> Path:
    """A valid OME-Zarr image (NGFF 0.5) of 2 planes of 16 × 16 pixels."""
    import zarr

    store = tmp_path_factory.mktemp("ome") / "image.ome.zarr"
    group = zarr.open_group(str(store), mode="w")
    group.create_array("0", data=np.arange(512, dtype=np.uint16).reshape(2, 16, 16))
    group.attrs["ome"] = {
        "version": "0.5",
        "multiscales": [
            {
                "axes": [
                    {"name": "t", "type": "time"},
                    {"name": "y", "type": "space"},
                    {"name": "x", "type": "space"},
                ],
                "datasets": [
                    {
                        "path": "0",
                        "coordinateTransformations": [{"type": "scale", "scale": [1.0, 0.5, 0.5]}],
                    }
                ],
            }
        ],
    }
    return store


@pytest.mark.parametrize("seed", range(4))
def test_hostile_ome_attributes_are_refused_in_one_line(ome_image, tmp_path, figures, seed):
    import shutil

    hostile = Hostile(400 + seed)
    metadata = json.loads((ome_image / "zarr.json").read_text(encoding="utf-8"))
    for case in range(12):
        store = tmp_path / f"{case}.ome.zarr"
        shutil.copytree(ome_image, store)
        mutated = metadata | {"attributes": hostile.mutate(metadata["attributes"])}
        (store / "zarr.json").write_text(json.dumps(mutated), encoding="utf-8")
        described = f"OME attributes {_short(mutated['attributes'])}"
        check_case(figures, described, lambda s=store: _open_and_read(s))


# --- TIFF and .npy headers ------------------------------------------------------------------


def _read_every_way(path: Path) -> None:
    """Check the header, open the stack and, for a small declared image, read it whole."""
    for reader in (check_planes, _open_and_read):
        with contextlib.suppress(DivNoisingError):
            reader(path)
    layout = check_planes(path)
    if math.prod(layout) <= READ_PIXELS:
        read_image(path)
        read_planes(path)


@pytest.mark.parametrize("seed", range(2))
def test_hostile_tiff_headers_are_refused_in_one_line(tmp_path, figures, seed):
    rng = random.Random(500 + seed)
    valid = write_tiff(tmp_path / "valid.tif", np.arange(2 * 16 * 16, dtype=np.uint16)
                       .reshape(2, 16, 16)).read_bytes()  # fmt: skip
    pixels = valid.find(np.arange(2, dtype=np.uint16).tobytes() + b"\x02\x00")
    header_end = pixels if pixels > 8 else 64
    for case in range(20):
        data = bytearray(valid)
        for _ in range(rng.randint(1, 6)):
            where = rng.randrange(4, len(data)) if rng.random() < 0.1 else rng.randrange(4, 200)
            if where >= header_end and where < header_end + 1024 and rng.random() < 0.5:
                where = rng.randrange(4, header_end)
            data[where] = rng.choice((0, 1, 0x7F, 0x80, 0xFF, rng.randrange(256)))
        path = tmp_path / f"{case}.tif"
        path.write_bytes(bytes(data))
        check_case(figures, f"TIFF case {seed}/{case}", lambda p=path: _read_every_way(p))


@pytest.mark.parametrize("seed", range(1))
def test_hostile_npy_headers_are_refused_in_one_line(tmp_path, figures, seed):
    hostile = Hostile(600 + seed)
    buffer = io.BytesIO()
    np.save(buffer, np.arange(2 * 16 * 16, dtype=np.uint16).reshape(2, 16, 16))
    valid = buffer.getvalue()
    for case in range(12):
        shape = hostile.value()
        header = f"{{'descr': '<u2', 'fortran_order': False, 'shape': {shape!r}, }}"
        if case % 3 == 0:
            header = header.replace("<u2", hostile.rng.choice(["|O", "<c8", "x", "<u2"]))
        header = header.ljust(118) + "\n"
        data = valid[:8] + len(header).to_bytes(2, "little") + header.encode()[:65535]
        path = tmp_path / f"{case}.npy"
        path.write_bytes(data + valid[128:])
        check_case(figures, f".npy shape {_short(shape)}", lambda p=path: _read_every_way(p))


def test_the_generator_is_seeded():
    first, second = Hostile(7), Hostile(7)
    assert [first.value() for _ in range(50)] == [second.value() for _ in range(50)]


# --- the shapes the hostile tester reported, each once ------------------------------------


def _set(document: dict, path: tuple, value: Any) -> dict:
    document = copy.deepcopy(document)
    parent = document
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return document


@pytest.mark.parametrize(
    ("key", "value"),
    [(("network_config",), "depth 2"), (("history",), 5), (("training_config",), [])],
)
def test_reported_model_json_values_are_refused_in_one_line(bundle, tmp_path, figures, key, value):
    members = _members(bundle)
    meta = _set(json.loads(members["model.json"]), key, value)
    path = _write_zip(
        tmp_path / "m.divnoising", members | {"model.json": json.dumps(meta).encode()}
    )
    check_case(figures, f"model.json {key}={value!r}", lambda: load_model(path))


def test_a_description_whose_config_is_a_list_is_refused_in_one_line(bundle, tmp_path, figures):
    rdf = {"type": "model", "name": "x", "config": [1, 2], "weights": ["a"]}
    members = {"rdf.yaml": yaml.safe_dump(rdf).encode(), "model.divnoising": bundle.read_bytes()}
    path = _write_zip(tmp_path / "package.zip", members)
    check_case(figures, "rdf.yaml config=[1, 2]", lambda: load_model(path))


@pytest.mark.parametrize(
    ("key", "value"),
    [
        (("ome", "multiscales", 0, "datasets"), []),
        (("ome", "multiscales", 0, "axes"), [1, 2, 3]),
        (("ome", "multiscales", 0, "axes"), ["t", {"name": 5}, "x"]),
        (("ome", "multiscales", 0, "datasets", 0, "coordinateTransformations"), [{"scale": 1}]),
        (("ome", "multiscales"), {"0": "a"}),
    ],
)
def test_reported_ome_attributes_are_refused_in_one_line(ome_image, tmp_path, figures, key, value):
    import shutil

    store = tmp_path / "image.ome.zarr"
    shutil.copytree(ome_image, store)
    metadata = json.loads((store / "zarr.json").read_text(encoding="utf-8"))
    metadata["attributes"] = _set(metadata["attributes"], key, value)
    (store / "zarr.json").write_text(json.dumps(metadata), encoding="utf-8")
    check_case(figures, f"OME {key}={value!r}", lambda: _open_and_read(store))


@pytest.mark.parametrize("shape", [["a", "b"], [-1, 16], [1e300, 16], [2, 16, 16, 16, 16]])
def test_reported_zarr_shapes_are_refused_in_one_line(tmp_path, figures, shape):
    store = tmp_path / "array.zarr"
    store.mkdir()
    metadata = _zarr_array_metadata() | {"shape": shape}
    (store / "zarr.json").write_text(json.dumps(metadata), encoding="utf-8")
    check_case(figures, f"zarr.json shape={shape!r}", lambda: _open_and_read(store))
