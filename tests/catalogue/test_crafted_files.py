"""Catalogue rows: small crafted files that declare something huge.

A hostile or broken file of a few kilobytes must not make a command build a giant network,
read gigabytes, expand a YAML alias bomb or read a plane larger than memory: each is refused
in one line that names the file, what it declares and the limit, in seconds and without
much memory, and no input changes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import struct
import time
import tracemalloc
import zipfile
import zlib
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path

import pytest
import torch

from .conftest import refused

#: A refusal reads headers only: far below this on any machine, also a busy one.
SECONDS = 30
#: Python and numpy allocations while refusing (tracemalloc sees both).
MEGABYTES = 256


@contextlib.contextmanager
def bounded(*inputs: Path) -> Iterator[None]:
    """Assert the body takes under SECONDS and MEGABYTES, and leaves `inputs` as they were."""
    digests = {path: _digest(path) for path in inputs}
    tracemalloc.start()
    start = time.monotonic()
    try:
        yield
        elapsed = time.monotonic() - start
        peak = tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()
    assert elapsed < SECONDS, f"took {elapsed:.1f} s"
    assert peak < MEGABYTES, f"allocated {peak:.0f} MiB"
    assert {path: _digest(path) for path in inputs} == digests, "an input changed"


def _digest(path: Path) -> str:
    if path.is_dir():
        parts = sorted(p for p in path.rglob("*") if p.is_file())
        return hashlib.sha256(b"".join(_digest(p).encode() for p in parts)).hexdigest()
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _rewritten(model: Path, out: Path, **replace: bytes) -> Path:
    """Copy the bundle `model` to `out`, with the members in `replace` swapped."""
    with zipfile.ZipFile(model) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as to:
        for name in source.namelist():
            to.writestr(name, replace.pop(name, None) or source.read(name))
        for name, data in replace.items():
            to.writestr(name, data)
    return out


def _with_network(model: Path, out: Path, **network: int) -> Path:
    with zipfile.ZipFile(model) as archive:
        meta = json.loads(archive.read("model.json"))
    meta["network_config"] |= network
    return _rewritten(model, out, **{"model.json": json.dumps(meta).encode()})


def _deflated_zeros(archive: zipfile.ZipFile, name: str, gibibytes: int) -> None:
    """Append a member of `gibibytes` GiB of zeros that takes about a thousandth on disk.

    Deflate blocks ended by a full flush are independent, so one compressed 16 MiB block
    repeated is a valid stream; written by hand, as zipfile would compress for seconds.
    """
    block, repeats = bytes(2**24), 64 * gibibytes
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    piece = compressor.compress(block) + compressor.flush(zlib.Z_FULL_FLUSH)
    data = piece * repeats + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(repeats):
        crc = zlib.crc32(block, crc)
    info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
    info.compress_type, info.CRC = zipfile.ZIP_DEFLATED, crc
    info.file_size, info.compress_size = len(block) * repeats, len(data)
    info.header_offset = archive.fp.tell()
    archive.fp.write(info.FileHeader(zip64=False) + data)
    archive.filelist.append(info)
    archive.NameToInfo[name] = info
    archive.start_dir = archive.fp.tell()


def _zarr_array(folder: Path, shape: list, chunks: list, names: list[str]) -> Path:
    folder.mkdir()
    metadata = {
        "zarr_format": 3,
        "node_type": "array",
        "shape": shape,
        "data_type": "float32",
        "chunk_grid": {"name": "regular", "configuration": {"chunk_shape": chunks}},
        "chunk_key_encoding": {"name": "default", "configuration": {"separator": "/"}},
        "fill_value": 0.0,
        "codecs": [{"name": "bytes", "configuration": {"endian": "little"}}],
        "attributes": {},
        "dimension_names": names,
    }
    (folder / "zarr.json").write_text(json.dumps(metadata), encoding="utf-8")
    return folder


def tiff_declaring(path: Path, height: int, width: int) -> Path:
    """A 200-byte TIFF whose one page declares `height` × `width` 16-bit pixels.

    Its one strip is 16 bytes, said to be deflated: a header can promise any page size.
    """
    short, long = 3, 4
    entries = [
        (256, long, width), (257, long, height), (258, short, 16), (259, short, 8),
        (262, short, 1), (273, long, 0), (277, short, 1), (278, long, height), (279, long, 16),
    ]  # fmt: skip
    data_offset = 8 + 2 + 12 * len(entries) + 4
    ifd = struct.pack("<H", len(entries))
    for tag, kind, value in entries:
        value = data_offset if tag == 273 else value
        packed = struct.pack("<HI", value, 0)[:4] if kind == short else struct.pack("<I", value)
        ifd += struct.pack("<HHI", tag, kind, 1) + packed
    path.write_bytes(b"II*\x00" + struct.pack("<I", 8) + ifd + b"\x00" * 4 + bytes(16))
    return path


@pytest.mark.timeout(60)
def test_a_model_file_declaring_a_giant_network_is_refused_before_building(workspace, capsys):
    # About 6·10⁹ parameters (24 GB as float32) declared in a 3 KB model.json.
    giant = {"depth": 4, "n_filters": 512, "n_conv_per_level": 4, "res_blocks": 7}
    crafted = _with_network(workspace.model, workspace.path("giant.divnoising"), **giant)
    out = workspace.path("out")
    with bounded(crafted, workspace.first_frame):
        line = refused(capsys, ["predict", crafted, workspace.first_frame, "--out", out])
    assert "giant.divnoising" in line and "parameters" in line and "at most" in line, line
    assert not out.exists()


@pytest.mark.timeout(60)
def test_a_small_model_file_holding_gigabytes_of_weights_is_refused_unread(workspace, capsys):
    crafted = workspace.path("bomb.divnoising")
    with zipfile.ZipFile(workspace.model) as source, zipfile.ZipFile(crafted, "w") as archive:
        for name in source.namelist():
            if name != "weights.pt":
                archive.writestr(name, source.read(name), zipfile.ZIP_DEFLATED)
        _deflated_zeros(archive, "weights.pt", gibibytes=3)
    assert crafted.stat().st_size < 8 * 2**20
    with bounded(crafted, workspace.first_frame):
        line = refused(
            capsys, ["predict", crafted, workspace.first_frame, "--out", workspace.path("out")]
        )
    assert "bomb.divnoising" in line and "weights.pt" in line and "at most" in line, line


BILLION_LAUGHS = """\
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f]
h: &h [*g, *g, *g, *g, *g, *g, *g, *g, *g]
i: &i [*h, *h, *h, *h, *h, *h, *h, *h, *h]
type: model
name: *i
"""


@pytest.mark.timeout(60)
def test_a_bioimageio_package_with_a_yaml_alias_bomb_is_refused(workspace, capsys):
    package = workspace.path("laughs.zip")
    with zipfile.ZipFile(package, "w") as archive:
        archive.writestr("rdf.yaml", BILLION_LAUGHS)
    assert package.stat().st_size < 2000
    with bounded(package, workspace.first_frame):
        line = refused(
            capsys, ["predict", package, workspace.first_frame, "--out", workspace.path("out")]
        )
    assert "laughs.zip" in line and "alias" in line, line


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["predict", "train"])
def test_a_zarr_array_declaring_a_plane_larger_than_memory_is_refused(workspace, capsys, command):
    # A 1 KB zarr.json: one 10⁶ × 10⁶ plane (4 TB as float32), in a million chunks.
    store = _zarr_array(workspace.path("huge.zarr"), [10**6, 10**6], [1000, 1000], ["y", "x"])
    out = workspace.path("out")
    if command == "predict":
        argv = ["predict", workspace.model, store, "--out", out, "--quiet"]
    else:
        argv = ["train", store, "--noise-model", workspace.noise_model, "--out",
                out / "m.divnoising", "--max-epochs", "1", "--quiet"]  # fmt: skip
    with bounded(store, workspace.model, workspace.noise_model):
        line = refused(capsys, argv)
    assert "huge.zarr" in line and "pixels" in line and "at most" in line, line
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.timeout(60)
@pytest.mark.parametrize("command", ["predict", "train"])
def test_a_tiff_whose_header_declares_a_huge_page_is_refused(workspace, capsys, command):
    huge = tiff_declaring(workspace.path("huge.tif"), 10**6, 10**6)
    out = workspace.path("out")
    if command == "predict":
        argv = ["predict", workspace.model, huge, "--out", out, "--quiet"]
    else:
        argv = ["train", huge, "--noise-model", workspace.noise_model, "--out",
                out / "m.divnoising", "--max-epochs", "1", "--quiet"]  # fmt: skip
    with bounded(huge, workspace.model):
        line = refused(capsys, argv)
    assert "huge.tif" in line and "pixels" in line and "at most" in line, line


@pytest.mark.timeout(60)
def test_a_model_file_holding_pickled_objects_is_refused_without_unsafe_advice(workspace, capsys):
    # The real weights, of the right length, and one object that is not a tensor.
    with zipfile.ZipFile(workspace.model) as archive:
        state = torch.load(io.BytesIO(archive.read("weights.pt")), weights_only=True)
    buffer = io.BytesIO()
    torch.save({**state, "extra": Fraction(1, 3)}, buffer)
    crafted = _rewritten(
        workspace.model, workspace.path("pickled.divnoising"), **{"weights.pt": buffer.getvalue()}
    )
    with bounded(crafted):
        line = refused(
            capsys, ["predict", crafted, workspace.first_frame, "--out", workspace.path("out")]
        )
    assert "pickled.divnoising" in line and "refused" in line and "safety" in line, line
    assert "weights_only" not in line and "trust" not in line.lower(), line


@pytest.mark.timeout(60)
def test_a_long_stack_of_ordinary_planes_still_opens(tmp_path):
    """The limits are on what one plane costs: 100,000 planes of 64 × 64 open lazily."""
    from napari_divnoising.core.stacks import open_stack

    store = _zarr_array(tmp_path / "long.zarr", [10**5, 64, 64], [1, 64, 64], ["t", "y", "x"])
    with bounded(store):
        stack = open_stack(store)
        plane = stack.read_plane(12_345)
    assert stack.n_planes == 10**5 and plane.shape == (64, 64)
