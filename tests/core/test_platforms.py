"""What differs on Windows and macOS, checked here by playing their rules (docs/platforms.md)."""

from __future__ import annotations

import errno
import os

import pytest

from napari_divnoising.core import atomic, limits
from napari_divnoising.core.atomic import atomic_path
from napari_divnoising.core.errors import OutputError, SettingsError
from napari_divnoising.core.outputs import check_output_name, output_name_from


@pytest.fixture
def windows(monkeypatch):
    """Renames follow Windows' rules; no waiting between retries."""
    monkeypatch.setattr(atomic, "WINDOWS", True)
    monkeypatch.setattr(atomic, "RENAME_WAIT_S", 0.0)


def held_open_for(monkeypatch, n_refusals: int) -> list[int]:
    """os.replace refuses `n_refusals` times as Windows does while a program holds the target."""
    calls = []
    real_replace = os.replace

    def replace(source, target):
        calls.append(1)
        if len(calls) <= n_refusals:
            raise PermissionError(errno.EACCES, "Access is denied", str(target))
        real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", replace)
    return calls


def test_a_target_held_open_for_a_moment_is_replaced_after_a_retry(tmp_path, monkeypatch, windows):
    target = tmp_path / "mmse.tif"
    target.write_bytes(b"old")
    calls = held_open_for(monkeypatch, n_refusals=3)
    with atomic_path(target) as temporary:
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"new"
    assert len(calls) == 4
    assert [p.name for p in tmp_path.iterdir()] == ["mmse.tif"]


def test_a_target_held_open_says_so_and_keeps_the_old_file(tmp_path, monkeypatch, windows):
    target = tmp_path / "mmse.tif"
    target.write_bytes(b"old")
    held_open_for(monkeypatch, n_refusals=atomic.RENAME_TRIES)
    with (
        pytest.raises(OutputError, match=r"mmse\.tif open in another program"),
        atomic_path(target) as temporary,
    ):
        temporary.write_bytes(b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["mmse.tif"]


def test_elsewhere_a_refused_rename_is_not_retried(tmp_path, monkeypatch):
    monkeypatch.setattr(atomic, "WINDOWS", False)
    calls = held_open_for(monkeypatch, n_refusals=1)
    with pytest.raises(OutputError, match=r"Access is denied$"), atomic_path(tmp_path / "x") as t:
        t.write_bytes(b"new")
    assert len(calls) == 1


def test_a_path_too_long_for_windows_names_the_limit(tmp_path, monkeypatch, windows):
    def refuse(*args, **kwargs):
        raise FileNotFoundError(errno.ENOENT, "No such file or directory")

    monkeypatch.setattr(atomic.tempfile, "mkstemp", refuse)
    deep = tmp_path / ("d" * 120) / ("e" * 120) / "mmse.tif"
    with (
        pytest.raises(OutputError, match="Windows allows 260 unless long paths"),
        atomic_path(deep),
    ):
        pass


@pytest.mark.parametrize("name", ["CON", "nul", "com1", "LPT9", "aux.day1", "COM¹"])
def test_names_windows_keeps_for_devices_are_refused(name):
    with pytest.raises(SettingsError, match="name of a device on Windows"):
        check_output_name(name)


@pytest.mark.parametrize("name", ["CONTROL", "con_1", "nullable", "COM10", "my aux"])
def test_names_that_only_start_like_a_device_are_kept(name):
    assert check_output_name(name) == name


def test_a_layer_named_like_a_device_gets_a_name_windows_accepts():
    assert check_output_name(output_name_from("nul")) == "nul_"


def test_physical_memory_is_known_without_sysconf(monkeypatch):
    # Windows has no os.sysconf: the memory limits must still hold there
    limits.physical_memory.cache_clear()
    monkeypatch.delattr(limits.os, "sysconf", raising=False)
    try:
        assert limits.physical_memory() > 2**28
    finally:
        limits.physical_memory.cache_clear()
