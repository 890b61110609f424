"""Predict the planes of a stack on a dask.distributed cluster.

One task per plane: the worker opens the stack itself (from its :class:`~..stacks.
StackSource`), samples the plane and writes its results into the shared OME-Zarr outputs
(:class:`~.chunked.ChunkedOutput`), so no pixel travels through the scheduler. The model
is sent to every worker once (``scatter(broadcast=True)``); each worker keeps its copy of
the network prepared for sampling between tasks and gives torch as many threads as the
worker has. Progress follows the tasks as they finish; the dask dashboard shows them as
usual. A lost worker's planes are run again by dask; a lost client leaves the finished
planes marked done for the next run.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import InputError, RunFailedError
from ..events import Progress, run_generator
from ..optional import import_bigdata
from ..stacks import open_source
from .planes import plane_predictor
from .posterior import SampleCount
from .runtime import resolve_device

if TYPE_CHECKING:
    from ..model.trained import TrainedModel
    from ..stacks import StackSource
    from .chunked import ChunkedOutput
    from .config import SamplingConfig

__all__ = ["connect", "iter_on_cluster", "scheduler_arguments"]

_STAGE = "predicting planes"
#: Seconds to wait for a scheduler before saying it cannot be reached.
CONNECT_TIMEOUT_S = 15
#: Per worker process: the samplers prepared for its tasks (one per model and settings).
_SAMPLERS: dict[tuple, Any] = {}


@contextlib.contextmanager
def connect(scheduler: str, *, n_workers: int | None = None) -> Iterator[Any]:
    """Yield a dask.distributed client for `scheduler`; close it (and a local cluster).

    Parameters
    ----------
    scheduler : str
        ``"local"`` (start a ``LocalCluster`` on this machine), a scheduler address
        (``"tcp://HOST:PORT"``) or the path of a scheduler file (``dask scheduler
        --scheduler-file``, as dask-jobqueue and ``dask-mpi`` write).
    n_workers : int, optional
        For ``"local"``: worker processes (default: one per core), one thread each.

    Yields
    ------
    distributed.Client

    Raises
    ------
    InputError
        If distributed is not installed, or the scheduler cannot be reached in time.
    """
    distributed = import_bigdata("distributed", purpose="a dask cluster (--scheduler)")
    Client, LocalCluster = distributed.Client, distributed.LocalCluster
    if scheduler == "local":
        workers = n_workers or os.cpu_count() or 1
        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0"
            ) as cluster,
            Client(cluster) as client,
        ):
            yield client
        return
    where = scheduler_arguments(scheduler)
    try:
        client = Client(**where, timeout=CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as err:
        raise InputError(
            f"cannot reach the dask scheduler at {scheduler} within {CONNECT_TIMEOUT_S} s "
            f"({err.__class__.__name__}); is it running, and is the address right?"
        ) from err
    except TypeError as err:  # distributed's way of saying tls:// has no certificates
        if "ssl" not in str(err).lower():
            raise
        raise InputError(
            f"--scheduler {scheduler}: a tls:// scheduler needs your cluster's certificates "
            "in dask's configuration (distributed.comm.tls: ca-file, client cert and key)"
        ) from err
    with client:
        yield client


def _has_certificates() -> bool:
    import dask  # heavy, and only for a cluster

    tls = dask.config.get("distributed.comm.tls", default={}) or {}
    return bool(tls.get("ca-file") and (tls.get("client") or {}).get("cert"))


#: Largest scheduler file read (dask writes a few hundred bytes).
_MAX_SCHEDULER_FILE_BYTES = 1 << 20


def scheduler_arguments(scheduler: str) -> dict[str, str]:
    """Return Client's arguments for `scheduler`, an address or a scheduler file; check it.

    Checks what can be checked without connecting, so that a typo is said before any work.

    Raises
    ------
    InputError
        If it is neither an address of a scheme dask knows nor a dask scheduler file.
    """
    comm = import_bigdata("distributed", purpose="a dask cluster (--scheduler)").comm
    parse_address, parse_host_port = comm.parse_address, comm.parse_host_port
    if "://" in scheduler:
        try:
            scheme, location = parse_address(scheduler)
            known = scheme in {"tcp", "tls", "inproc", "ucx", "ws", "wss"} and bool(location)
            if known and scheme != "inproc":
                _, port = parse_host_port(location)  # a port that is a number
                known = 0 < int(port) < 65536
        except ValueError:
            known = False
        if not known:
            raise InputError(
                f"--scheduler {scheduler}: not a dask scheduler address; give "
                "tcp://HOST:PORT (or tls://, ws://, wss://), 'local', or a scheduler file"
            )
        if scheme in ("tls", "wss") and not _has_certificates():
            raise InputError(
                f"--scheduler {scheduler}: a {scheme}:// scheduler needs your cluster's "
                "certificates in dask's configuration (distributed.comm.tls: ca-file, "
                "client cert and key)"
            )
        return {"address": scheduler}
    path = Path(scheduler)
    if not path.is_file():
        raise InputError(
            f"--scheduler {scheduler}: not 'local', an address like tcp://HOST:8786, "
            "or an existing scheduler file"
        )
    try:
        with path.open("rb") as file:
            record = json.loads(file.read(_MAX_SCHEDULER_FILE_BYTES))
    except (OSError, ValueError):
        record = None
    if not isinstance(record, dict) or not isinstance(record.get("address"), str):
        raise InputError(
            f"--scheduler {scheduler}: not a dask scheduler file (JSON with the scheduler's "
            "'address', as `dask scheduler --scheduler-file` and dask-jobqueue write it)"
        )
    if "://" not in record["address"]:
        raise InputError(
            f"--scheduler {scheduler}: its address {record['address']!r} has no scheme"
        )
    try:
        scheduler_arguments(record["address"])
    except InputError as err:
        raise InputError(f"{scheduler} is a scheduler file with a bad address: {err}") from err
    return {"scheduler_file": scheduler}


def iter_on_cluster(
    client: Any,
    source: StackSource,
    model: TrainedModel,
    output: ChunkedOutput,
    todo: list[int],
    *,
    settings: SamplingConfig,
    device: str | None,
    model_key: str,
) -> Generator[Progress, None, int]:
    """Compute the planes `todo` as tasks of `client`; yield progress; return how many.

    Closing the generator (a Stop) cancels the tasks not finished yet. `model_key` (the
    model's fingerprint) names the model in the workers' caches.

    Raises
    ------
    RunFailedError
        If a plane fails (its error is named with the plane).
    """
    from distributed import as_completed

    yield Progress(
        _STAGE,
        0,
        len(todo),
        status=f"0/{len(todo)} planes",
        message=f"dask dashboard: {client.dashboard_link}",
    )
    # Workers may have no GPU: send a CPU copy, leaving the caller's model where it is.
    cpu_model = model if model.device.type == "cpu" else copy.deepcopy(model).to("cpu")
    shared_model = client.scatter(cpu_model, broadcast=True, hash=False)
    futures = [
        client.submit(
            _predict_plane,
            source,
            shared_model,
            output,
            index,
            settings,
            device,
            model_key,
            key=f"divnoising-{output.stem}-plane-{index}",
            pure=False,
        )
        for index in todo
    ]
    try:
        for done, future in enumerate(as_completed(futures), start=1):
            if future.status == "error":
                index = todo[futures.index(future)]
                raise RunFailedError(f"plane {index} failed: {future.exception()}")
            yield Progress(_STAGE, done, len(todo), status=f"{done}/{len(todo)} planes")
    finally:
        client.cancel([future for future in futures if not future.done()])
    return len(todo)


def _predict_plane(
    source: StackSource,
    model: TrainedModel,
    output: ChunkedOutput,
    index: int,
    settings: SamplingConfig,
    device: str | None,
    model_key: str,
) -> int:
    """Sample plane `index` on a worker and write its results; return the index."""
    stack = open_source(source)
    sampler = _sampler(model, model_key, settings, stack.plane_shape, device)
    plane = stack.read_plane(index)
    results = run_generator(sampler.iter_plane(plane, index, SampleCount(0)))
    output.store_plane(index, results)
    return index


def _sampler(
    model: TrainedModel,
    model_key: str,
    settings: SamplingConfig,
    shape: tuple[int, int],
    device: str | None,
) -> Any:
    """Return this worker's sampler for the model and settings, prepared once."""
    import torch
    from distributed import get_worker

    # The fingerprint, not id(model): a later run's model may reuse a freed object's id.
    key = (model_key, settings, shape, device)
    if key not in _SAMPLERS:
        _SAMPLERS.clear()  # one at a time: a new model or settings replaces the last
        # The worker runs as many planes at once as it has threads: one torch thread each
        # keeps the cores it was given busy without oversubscribing them.
        get_worker()  # raises outside a worker: this is a task function
        torch.set_num_threads(1)
        _SAMPLERS[key] = plane_predictor(model, settings, shape, device=resolve_device(device))
    return _SAMPLERS[key]
