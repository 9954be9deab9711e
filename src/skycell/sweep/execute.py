"""Running a sweep: local worker processes by default, a Ray cluster when one machine is not enough.

:func:`run_sweep` expands nothing itself: it takes a loaded :class:`~skycell.sweep.spec.Sweep`,
skips the runs whose result is already in the store, hands the others to an executor and stores
each result row as it arrives (the driver writes every file, so Ray workers on other machines need
no access to the sweep folder). Both executors run the same function,
:func:`skycell.sweep.runner.execute_run`, on the same self-contained run specs, with one thread
per numeric library in every worker (Ray's default, set for local workers too), so a run gives the
same row whichever executor ran it.

* ``local``: ``workers`` processes started with ``spawn`` (a clean interpreter each, no state
  inherited from the driver), results streamed back as they finish.
* ``ray``: one Ray task per run (``num_cpus=1``). If Ray is already initialised in this process
  (``ray.init(...)`` by the caller, as the tests do) that cluster is used; otherwise ``address``
  says where: ``auto`` (the cluster started with ``ray start`` on this machine, or
  ``RAY_ADDRESS``), ``HOST:PORT`` of a head node, or ``local`` to start a private one-machine Ray
  with ``workers`` CPUs. Every node needs the same skycell installed; scenario files travel
  inside the run specs (a GeoJSON city file must exist at the same path on every node).

Interrupting (Ctrl-C) stops the workers; every result already stored stays, and running the
same sweep again resumes with the runs still missing.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import time
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from skycell.errors import SkycellError

from .runner import execute_run
from .store import SweepStore

if TYPE_CHECKING:
    from .spec import RunSpec, Sweep

__all__ = ["EXECUTORS", "SweepOutcome", "run_sweep"]

#: Executor names.
EXECUTORS: tuple[str, ...] = ("local", "ray")
#: Environment of every worker: one thread per numeric library (Ray sets the same by default).
THREAD_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}


@dataclass
class SweepOutcome:
    """What one invocation of :func:`run_sweep` did.

    Attributes:
        total: runs in the sweep.
        skipped: runs whose result was already stored (not run again).
        executed: run ids run by this invocation, in completion order.
        failed: of those, the ids whose row has ``status = error``.
        session: id of this invocation (the rows' ``session`` column).
        wall_s: wall time [s].
        stale_removed: temporary files of killed writers removed at start.
    """

    total: int
    skipped: int
    executed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    session: str = ""
    wall_s: float = 0.0
    stale_removed: int = 0


Progress = Callable[[int, int, dict[str, Any]], None]


def run_sweep(
    sweep: Sweep,
    out_dir: str | os.PathLike[str],
    *,
    executor: str = "local",
    workers: int | None = None,
    address: str | None = None,
    retry_errors: bool = False,
    progress: Progress | None = None,
    on_start: Callable[[int, int], None] | None = None,
) -> SweepOutcome:
    """Run every run of ``sweep`` whose result is not yet in ``out_dir``.

    Args:
        sweep: a loaded sweep (:func:`skycell.sweep.load_sweep`).
        out_dir: the sweep folder (created; see :class:`~skycell.sweep.store.SweepStore`).
        executor: ``local`` or ``ray``.
        workers: local worker processes (default: the CPUs); for ``ray`` with
            ``address="local"``, the CPUs of the private Ray instance.
        address: Ray cluster (``auto``, ``HOST:PORT`` or ``local``); ignored when Ray is already
            initialised in this process.
        retry_errors: also run again the runs whose stored row is an error.
        progress: ``progress(done, to_run, row)`` after each stored run.
        on_start: ``on_start(to_run, skipped)`` once the pending runs are known.

    Raises:
        SkycellError: unknown executor, Ray missing or unreachable, unwritable folder.
    """
    if executor not in EXECUTORS:
        raise SkycellError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if workers is not None and workers < 1:
        raise SkycellError(f"--workers must be >= 1, got {workers}")
    tic = time.perf_counter()
    if executor == "ray":
        ray_connect(address, workers)  # fail before touching the sweep folder
    store = SweepStore(out_dir)
    store.prepare(sweep)
    stale = store.clean_stale()
    done = store.finished()
    if retry_errors:
        done -= store.errors()
    pending = [r for r in sweep.runs if r.run_id not in done]
    session = uuid.uuid4().hex[:12]
    outcome = SweepOutcome(
        total=len(sweep.runs),
        skipped=len(sweep.runs) - len(pending),
        session=session,
        stale_removed=stale,
    )
    if on_start is not None:
        on_start(len(pending), outcome.skipped)
    params = {c: v for c, v in (sweep.runs[0].params if sweep.runs else ())}
    from .runner import param_value

    params = {c: param_value(v) for c, v in params.items()}
    if pending:
        rows = (
            _local(pending, workers, session)
            if executor == "local"
            else _ray(pending, workers, address, session)
        )
        try:
            for row in rows:
                store.write(row, params)
                outcome.executed.append(str(row["run_id"]))
                if row["status"] != "ok":
                    outcome.failed.append(str(row["run_id"]))
                if progress is not None:
                    progress(len(outcome.executed), len(pending), row)
        finally:
            rows.close()
    outcome.wall_s = time.perf_counter() - tic
    return outcome


# --------------------------------------------------------------------------------------------
# local processes
# --------------------------------------------------------------------------------------------


def _local_task(spec: RunSpec, session: str) -> dict[str, Any]:
    return execute_run(spec, executor="local", session=session)


def _local(runs: list[RunSpec], workers: int | None, session: str) -> Generator[dict[str, Any]]:
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    n = max(1, min(workers or os.cpu_count() or 1, len(runs)))
    pool = ProcessPoolExecutor(n, mp_context=mp.get_context("spawn"))
    saved = {k: os.environ.get(k) for k in THREAD_ENV}
    os.environ.update(THREAD_ENV)  # inherited by the workers, which spawn on the first submits
    try:
        futures = {pool.submit(_local_task, r, session): r for r in runs}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    try:
        pending = set(futures)
        while pending:
            ready, pending = wait(pending, return_when=FIRST_COMPLETED)
            for fut in ready:
                try:
                    yield fut.result()
                except BrokenProcessPool:
                    raise SkycellError(
                        f"a worker process died while running run {futures[fut].run_id} (out "
                        "of memory, or killed; from a Python script, also check that the call "
                        "is under `if __name__ == '__main__':`, which spawned workers need); the "
                        "finished runs are saved: run the sweep again to resume, with fewer "
                        "--workers if memory is short"
                    ) from None
    except BaseException:  # interrupted, or the consumer stopped early: stop now
        _stop(pool, futures)
        raise
    pool.shutdown(wait=True)


def _stop(pool: Any, futures: dict[Any, RunSpec]) -> None:
    """Stop a process pool at once: cancel every queued run (explicitly: once this generator
    is gone the pool's manager thread no longer sees ``cancel_futures`` and would run the whole
    queue) and terminate the workers (their current runs are lost anyway: only the driver
    stores results). Then wait for the pool's manager thread, which sees its workers gone and
    ends: left running, it races the interpreter's exit handler that wakes it through a pipe it
    may already have closed, and prints a traceback at shutdown."""
    for fut in futures:
        fut.cancel()
    procs = list((getattr(pool, "_processes", None) or {}).values())
    manager = getattr(pool, "_executor_manager_thread", None)
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    for proc in procs:
        proc.join(timeout=10)
    if manager is not None:
        manager.join(timeout=10)


# --------------------------------------------------------------------------------------------
# Ray
# --------------------------------------------------------------------------------------------


def _ray_task(spec: RunSpec, session: str) -> dict[str, Any]:
    return execute_run(spec, executor="ray", session=session)


def ray_connect(address: str | None, workers: int | None) -> None:
    """Initialise Ray in this process unless it already is (see the module docstring).

    Raises:
        SkycellError: Ray is not installed, or no cluster answers at ``address``.
    """
    try:
        import ray
    except ImportError:
        raise SkycellError(
            "the ray executor needs Ray: pip install 'skycell[cluster]' (or run with "
            "--executor local)"
        ) from None
    if ray.is_initialized():
        return
    addr = address or "auto"
    try:
        if addr == "local":
            ray.init(
                num_cpus=workers or os.cpu_count() or 1,
                include_dashboard=False,
                log_to_driver=False,
                configure_logging=False,
            )
        else:
            ray.init(address=addr, log_to_driver=False, configure_logging=False)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SkycellError(
            f"cannot reach a Ray cluster at --address {addr}: {first}; start one with "
            "`ray start --head` (and `ray start --address HEAD:6379` on the other machines), "
            "or use --address local for a one-machine Ray"
        ) from None


def _ray(
    runs: list[RunSpec], workers: int | None, address: str | None, session: str
) -> Generator[dict[str, Any]]:
    ray_connect(address, workers)
    import ray

    task = ray.remote(num_cpus=1, max_retries=2)(_ray_task)
    pending = [task.remote(r, session) for r in runs]
    try:
        while pending:
            ready, pending = ray.wait(pending, num_returns=1)
            for ref in ready:
                yield ray.get(ref)
    finally:
        for ref in pending:
            ray.cancel(ref, force=True)


def default_out_dir(sweep: Sweep) -> Path:
    """``out/sweeps/<sweep name>``."""
    return Path("out") / "sweeps" / sweep.name
