"""Time-stepped simulation of a deployment with moving users (paper 000 §VI, Fig. 9).

At every step ``t = k dt`` (k = 0..steps) every user is at its trajectory position (linear
interpolation between samples, the last sample held after the end) and every station at its track
position (its hover position, or a track such as a recovery manoeuvre: station mobility, which
paper 000 had to patch into its second twin). The channel engine gives the received power of
every station at every user, ``P_rx = P_tx + G`` [dBm] (the analytic engine's path gain with
both antenna patterns, or Sionna RT's traced paths, power summed over paths as paper 000 §VI
does), and from it:

* the serving station: the strongest received power (the highest SIR, as Fig. 7's association);
* ``SIR = P_serving / (sum_{j != serving} P_j + eps)`` with eq. 9's noise proxy
  ``eps = 1e-20`` W (the §VI formula has none; without it a user whom no interfering station
  reaches, as the ray tracer can report, would have an infinite SIR) and
  ``SINR = P_serving / (sum_{j != serving} P_j + N)`` with the scenario's noise floor N [dB];
* which station-user links have a path at all (a ray-traced engine finds none where no path of
  at most ``max_depth`` interactions exists; the analytic engine always has one): the share of
  links without one says how much interference the SIR leaves out.

Per area of interest, the mean SIR [dB] over the users walking in its spawn zone at each step is
paper 000 Fig. 9's curve; :func:`plot_area_sir` draws it for several runs (a deployment before and
after tuning). :meth:`SimulationResult.to_arrow` gives the whole time series as a columnar table
(one row per step and user) for Parquet.

Loops run over steps only (vectorised over stations and users); with static stations and the
analytic engine all steps are one engine call.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import SkycellError
from skycell.fileio import atomic_write
from skycell.metrics import SIR_EPSILON
from skycell.radio.engine import has_path

if TYPE_CHECKING:
    from skycell.deployment import TrajectoryRecord

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]


#: Area label of the users that walk in no area of interest.
ELSEWHERE = "elsewhere"


def _area_labels(areas: Sequence[str | None]) -> NDArray[np.str_]:
    return np.array([a if a is not None else ELSEWHERE for a in areas])


class PowerEngine(Protocol):
    """What the simulation needs from a channel engine."""

    def received_power_dbm(
        self,
        tx_xyz_m: ArrayLike,
        rx_xyz_m: ArrayLike,
        *,
        tx_power_dbm: ArrayLike,
        azimuth_deg: ArrayLike | None = None,
        tilt_deg: ArrayLike | None = None,
    ) -> FloatArray: ...


@dataclass(frozen=True)
class UserTracks:
    """Users sampled on the simulation's time grid.

    Attributes:
        ids: ``(U,)`` user ids.
        kinds: ``(U,)`` ``user``, ``pedestrian`` or ``vehicle``.
        areas: ``(U,)`` AOI id of the user's spawn zone, or None.
        xyz_m: ``(T, U, 3)`` positions [m] at ``t = k dt_s``.
        dt_s: step [s].
    """

    ids: tuple[str, ...]
    kinds: tuple[str, ...]
    areas: tuple[str | None, ...]
    xyz_m: FloatArray
    dt_s: float

    @property
    def steps(self) -> int:
        """Number of steps (T - 1)."""
        return int(self.xyz_m.shape[0]) - 1

    @classmethod
    def resample(
        cls, records: Sequence[TrajectoryRecord], *, steps: int, dt_s: float
    ) -> UserTracks:
        """Sample trajectories at ``t = k dt_s``, k = 0..steps (linear interpolation between
        their own samples, the last position held after their end).

        Raises:
            SkycellError: no trajectories, steps < 1, dt_s <= 0, or a trajectory without
                positions.
        """
        if steps < 1 or not (math.isfinite(dt_s) and dt_s > 0):
            raise SkycellError(f"simulate: steps must be >= 1 and dt_s > 0, got {steps}, {dt_s}")
        if not records:
            raise SkycellError(
                "simulate: no users to simulate; give users per area, SUMO users or a "
                "deployment with user trajectories"
            )
        t = np.arange(steps + 1, dtype=np.float64) * dt_s
        xyz = np.empty((steps + 1, len(records), 3))
        for j, r in enumerate(records):  # per trajectory: each has its own sampling
            p = np.asarray(r.positions_m, dtype=np.float64).reshape(-1, 3)
            if p.shape[0] == 0:
                raise SkycellError(f"simulate: trajectory {r.id!r} has no positions")
            tj = np.arange(p.shape[0], dtype=np.float64) * r.dt_s
            for k in range(3):
                xyz[:, j, k] = np.interp(t, tj, p[:, k])
        return cls(
            ids=tuple(r.id for r in records),
            kinds=tuple(r.kind for r in records),
            areas=tuple(r.area for r in records),
            xyz_m=xyz,
            dt_s=float(dt_s),
        )


def route_track(route_m: ArrayLike, *, steps: int, dt_s: float, speed_mps: float) -> FloatArray:
    """``(steps + 1, 3)`` positions of a station flying its route polyline at ``speed_mps`` from
    t = 0 and hovering at the end."""
    r = np.asarray(route_m, dtype=np.float64).reshape(-1, 3)
    if r.shape[0] == 0:
        raise SkycellError("route_track: the route has no waypoints")
    if not speed_mps > 0:
        raise SkycellError(f"route_track: speed_mps must be > 0, got {speed_mps}")
    s = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(r, axis=0), axis=1))])
    want = np.minimum(np.arange(steps + 1) * dt_s * speed_mps, s[-1])
    if s[-1] == 0:
        return np.repeat(r[:1], steps + 1, axis=0)
    return np.stack([np.interp(want, s, r[:, k]) for k in range(3)], axis=-1)


@dataclass(frozen=True)
class SimulationResult:
    """One simulated run.

    Attributes:
        label: the run's name (e.g. ``before``/``after`` tuning).
        users: the user tracks.
        station_ids: ``(N,)`` station ids.
        station_xyz_m: ``(T, N, 3)`` station positions [m].
        rx_power_dbm: ``(T, N, U)`` received power [dBm].
        serving: ``(T, U)`` index of the serving station.
        sir_db, sinr_db: ``(T, U)`` SIR and SINR of the serving link [dB].
        noise_dbm: the noise floor [dBm].
        linked: ``(T, N, U)`` True where the engine found a path between the station and the
            user (:func:`~skycell.radio.engine.has_path`); all True when not given.
    """

    label: str
    users: UserTracks
    station_ids: tuple[str, ...]
    station_xyz_m: FloatArray
    rx_power_dbm: FloatArray
    serving: IntArray
    sir_db: FloatArray
    sinr_db: FloatArray
    noise_dbm: float
    linked: BoolArray | None = None

    def no_path_share(self) -> float:
        """Share of station-user links (over steps) without a path, 0..1."""
        return 0.0 if self.linked is None else float(1.0 - self.linked.mean())

    @property
    def steps(self) -> int:
        """Number of steps."""
        return self.users.steps

    def serving_power_dbm(self) -> FloatArray:
        """``(T, U)`` received power of the serving station [dBm]."""
        return np.take_along_axis(self.rx_power_dbm, self.serving[:, None, :], axis=1)[:, 0, :]

    def area_ids(self) -> tuple[str, ...]:
        """The AOI ids present among the users, in order of first appearance, then
        ``ELSEWHERE`` if some users belong to no area (scenario users, SUMO road users)."""
        seen: dict[str, None] = {}
        for a in self.users.areas:
            if a is not None:
                seen.setdefault(a, None)
        if any(a is None for a in self.users.areas):
            seen[ELSEWHERE] = None
        return tuple(seen)

    def area_mean_sir_db(self) -> tuple[tuple[str, ...], FloatArray]:
        """Area ids and the ``(T, M)`` mean SIR [dB] over each area's users per step (Fig. 9)."""
        return self._area_mean(self.sir_db)

    def area_mean_sinr_db(self) -> tuple[tuple[str, ...], FloatArray]:
        """Area ids and the ``(T, M)`` mean SINR [dB] over each area's users per step."""
        return self._area_mean(self.sinr_db)

    def _area_mean(self, values: FloatArray) -> tuple[tuple[str, ...], FloatArray]:
        ids = self.area_ids()
        areas = _area_labels(self.users.areas)
        out = np.full((self.users.xyz_m.shape[0], len(ids)), np.nan)
        for m, a in enumerate(ids):  # per AOI (a handful)
            out[:, m] = values[:, areas == a].mean(axis=1)
        return ids, out

    def area_no_path_share(self) -> tuple[tuple[str, ...], FloatArray]:
        """Area ids and the ``(M,)`` share of links (stations x the area's users x steps)
        without a path, 0..1."""
        ids = self.area_ids()
        if self.linked is None:
            return ids, np.zeros(len(ids))
        areas = _area_labels(self.users.areas)
        return ids, np.array([1.0 - self.linked[:, :, areas == a].mean() for a in ids])

    def to_arrow(self) -> Any:
        """A ``pyarrow.Table``: one row per step and user (run, step, t_s, user, kind, area,
        x_m, y_m, z_m, serving_station, rx_power_dbm, sir_db, sinr_db, stations_reached: the
        stations with a path to the user)."""
        import pyarrow as pa

        t_count, u_count = self.sir_db.shape
        steps = np.repeat(np.arange(t_count), u_count)
        xyz = self.users.xyz_m.reshape(-1, 3)
        serving_ids = np.asarray(self.station_ids, dtype=object)[self.serving.reshape(-1)]
        n = len(self.station_ids)
        reached = np.full((t_count, u_count), n) if self.linked is None else self.linked.sum(1)
        return pa.table(
            {
                "run": pa.array([self.label] * (t_count * u_count), pa.string()),
                "step": pa.array(steps, pa.int32()),
                "t_s": pa.array(steps * self.users.dt_s, pa.float64()),
                "user": pa.array(list(self.users.ids) * t_count, pa.string()),
                "kind": pa.array(list(self.users.kinds) * t_count, pa.string()),
                "area": pa.array(list(self.users.areas) * t_count, pa.string()),
                "x_m": pa.array(xyz[:, 0]),
                "y_m": pa.array(xyz[:, 1]),
                "z_m": pa.array(xyz[:, 2]),
                "serving_station": pa.array(serving_ids.tolist(), pa.string()),
                "rx_power_dbm": pa.array(self.serving_power_dbm().reshape(-1)),
                "sir_db": pa.array(self.sir_db.reshape(-1)),
                "sinr_db": pa.array(self.sinr_db.reshape(-1)),
                "stations_reached": pa.array(reached.reshape(-1), pa.int32()),
            }
        )


def simulate(
    engine: PowerEngine,
    users: UserTracks,
    *,
    station_ids: Sequence[str],
    station_xyz_m: ArrayLike,
    tx_power_dbm: ArrayLike,
    azimuth_deg: ArrayLike,
    tilt_deg: ArrayLike,
    noise_dbm: float,
    label: str = "run",
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate every step: received power, serving station, SIR and SINR per user.

    Args:
        engine: the channel engine (analytic or Sionna).
        users: user tracks on the simulation grid.
        station_ids: ``(N,)`` ids.
        station_xyz_m: ``(N, 3)`` hover positions, or ``(T, N, 3)`` a track per step [m].
        tx_power_dbm, azimuth_deg, tilt_deg: ``(N,)`` station settings.
        noise_dbm: receiver noise floor [dBm].
        label: the run's name.
        progress: ``progress(done_steps, total_steps)``.
    """
    n = len(station_ids)
    t_count = users.xyz_m.shape[0]
    u_count = users.xyz_m.shape[1]
    pos = np.asarray(station_xyz_m, dtype=np.float64)
    if pos.shape == (n, 3):
        track = np.broadcast_to(pos, (t_count, n, 3)).copy()
        static = True
    elif pos.shape == (t_count, n, 3):
        track = pos.copy()
        static = bool(np.all(track == track[:1]))
    else:
        raise SkycellError(
            f"simulate: station positions must have shape ({n}, 3) or ({t_count}, {n}, 3), "
            f"got {pos.shape}"
        )
    settings = {
        "tx_power_dbm": np.asarray(tx_power_dbm, dtype=np.float64).reshape(n),
        "azimuth_deg": np.asarray(azimuth_deg, dtype=np.float64).reshape(n),
        "tilt_deg": np.asarray(tilt_deg, dtype=np.float64).reshape(n),
    }
    rx = np.empty((t_count, n, u_count))
    batched = static and not hasattr(engine, "paths")  # the analytic engine: one call
    if batched:
        p = engine.received_power_dbm(track[0], users.xyz_m.reshape(-1, 3), **settings)
        rx[:] = np.asarray(p, dtype=np.float64).reshape(n, t_count, u_count).transpose(1, 0, 2)
        if progress is not None:
            progress(t_count, t_count)
    else:
        for k in range(t_count):  # per step (the ray tracer traces each step)
            rx[k] = engine.received_power_dbm(track[k], users.xyz_m[k], **settings)
            if progress is not None:
                progress(k + 1, t_count)
    serving = np.argmax(rx, axis=1).astype(np.int64)
    power_w = 10.0 ** ((rx - 30.0) / 10.0)
    signal = np.take_along_axis(power_w, serving[:, None, :], axis=1)[:, 0, :]
    interference = power_w.sum(axis=1) - signal
    noise_w = 10.0 ** ((noise_dbm - 30.0) / 10.0)
    with np.errstate(divide="ignore"):
        sir = 10.0 * np.log10(signal / (interference + SIR_EPSILON))
        sinr = 10.0 * np.log10(signal / (interference + noise_w))
    linked = has_path(rx - settings["tx_power_dbm"][None, :, None])
    return SimulationResult(
        label=label,
        users=users,
        station_ids=tuple(station_ids),
        station_xyz_m=track,
        rx_power_dbm=rx,
        serving=serving,
        sir_db=np.asarray(sir, dtype=np.float64),
        sinr_db=np.asarray(sinr, dtype=np.float64),
        noise_dbm=float(noise_dbm),
        linked=linked,
    )


def write_parquet(results: Sequence[SimulationResult], path: str | Path) -> Path:
    """All runs' time series in one Parquet file (atomically)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.concat_tables([r.to_arrow() for r in results])
    out = Path(path)
    atomic_write(out, lambda tmp: pq.write_table(table, tmp), suffix=".parquet")
    return out


def area_table(results: Sequence[SimulationResult]) -> tuple[list[str], list[list[str]]]:
    """Per AOI: users; for each run the mean over the steps of the per-step mean SIR [dB]; the
    change between the first and the last run; the last run's mean SINR [dB]; and, when some
    links have no path (a ray-traced engine), the share of the area's links without one [%]."""
    first, last = results[0], results[-1]
    ids, _ = first.area_mean_sir_db()
    means = [r.area_mean_sir_db()[1].mean(axis=0) for r in results]
    sinr = last.area_mean_sinr_db()[1].mean(axis=0)
    _, no_path = last.area_no_path_share()
    areas = _area_labels(first.users.areas)
    columns = ["area", "users", *(f"mean SIR {r.label} [dB]" for r in results)]
    if len(results) > 1:
        columns.append("change [dB]")
    columns.append(f"mean SINR {last.label} [dB]")
    show_no_path = bool(np.any(no_path > 0))
    if show_no_path:
        columns.append("links without a path [%]")
    rows = []
    for m, a in enumerate(ids):
        row = [a, str(int((areas == a).sum())), *(f"{v[m]:.2f}" for v in means)]
        if len(results) > 1:
            row.append(f"{means[-1][m] - means[0][m]:+.2f}")
        row.append(f"{sinr[m]:.2f}")
        if show_no_path:
            row.append(f"{100.0 * no_path[m]:.1f}")
        rows.append(row)
    return columns, rows


def write_area_csv(results: Sequence[SimulationResult], path: str | Path) -> Path:
    """Per step and AOI, each run's mean SIR [dB] as CSV (atomically)."""
    ids, _ = results[0].area_mean_sir_db()
    head = ["step", "t_s", *(f"{a}:{r.label}" for r in results for a in ids)]
    data = np.column_stack([r.area_mean_sir_db()[1] for r in results])
    t = np.arange(data.shape[0])
    lines = [",".join(head)]
    lines += [
        ",".join([str(k), f"{k * results[0].users.dt_s:g}", *(f"{v:.4f}" for v in data[k])])
        for k in t
    ]
    from skycell.fileio import atomic_write_text

    out = Path(path)
    atomic_write_text(out, "\n".join(lines) + "\n")
    return out


def plot_area_sir(
    results: Sequence[SimulationResult], path: str | Path, *, title: str | None = None
) -> Path:
    """Paper 000 Fig. 9: per AOI, the mean SIR [dB] of its users per step, one line per run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ids, _ = results[0].area_mean_sir_db()
    m = max(len(ids), 1)
    cols = min(m, 3)
    rows = math.ceil(m / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.6 * cols, 3.2 * rows), squeeze=False)
    styles = ["-", "--", ":", "-."]
    for i, a in enumerate(ids):
        ax = axes[i // cols][i % cols]
        for j, r in enumerate(results):
            t = np.arange(r.users.xyz_m.shape[0]) * r.users.dt_s
            ax.plot(t, r.area_mean_sir_db()[1][:, i], styles[j % 4], lw=1.6, label=r.label)
        ax.set_title(a, fontsize=10)
        ax.set_xlabel("time [s]")
        ax.set_ylabel("mean SIR [dB]")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    for i in range(len(ids), rows * cols):
        axes[i // cols][i % cols].axis("off")
    fig.suptitle(title or "SIR of the users in each area over time (paper 000 Fig. 9)")
    fig.tight_layout()
    out = Path(path)
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=120), suffix=".png")
    plt.close(fig)
    return out


@dataclass(frozen=True)
class SimulationRun:
    """What :func:`run_simulation` produced.

    Attributes:
        results: one :class:`SimulationResult` per run (``before`` and ``after`` tuning when the
            deployment was tuned, else ``deployed``).
        deployment: the input deployment with the simulated users' trajectories added
            (``user_trajectories``, the exchange format of paper 000 §III-A).
        engine: the engine kind used.
    """

    results: list[SimulationResult]
    deployment: Any
    engine: str


def run_simulation(
    deployment: Any,
    *,
    steps: int = 60,
    dt_s: float = 1.0,
    users_per_area: int = 50,
    seed: int = 0,
    engine: str | None = None,
    sumo_vehicles: int = 0,
    sumo_pedestrians: int = 0,
    fly_routes: bool = False,
    speed_mps: float = 10.0,
    samples: int | None = None,
    memory_gb: float | None = None,
    diffraction: bool | None = None,
    progress: Callable[[str, int, int], None] | None = None,
    status: Callable[[str], None] | None = None,
) -> SimulationRun:
    """Simulate a deployment over time with moving users (paper 000 §VI).

    Users: ``users_per_area`` seeded random-waypoint walkers in each AOI's spawn zone (a square
    of side 2 r_m), the deployment's own user trajectories, and optionally SUMO vehicles and
    pedestrians on the street network of the scenario's generated city (extra ``mobility``).
    Stations hover at their positions, or with ``fly_routes`` fly their planned routes at
    ``speed_mps`` from t = 0. A tuned deployment is simulated twice: with the start settings of
    its tuning (``before``) and with the tuned ones (``after``), as Fig. 9. On the Sionna engine
    every step traces every station-user link (``samples`` rays per station, default the
    scenario's ``engine.samples``; the cost grows with users x stations x samples, and the users
    are traced in chunks that fit ``memory_gb``, default the scenario's ``engine.memory_gb``;
    ``diffraction`` adds one edge diffraction per path, default ``engine.diffraction``).

    Raises:
        SkycellError: bad arguments, no users, an unavailable engine or SUMO.
    """
    from skycell.plan.pipeline import deployment_city, deployment_scenario
    from skycell.twin.mobility import aoi_walkers

    if users_per_area < 0 or sumo_vehicles < 0 or sumo_pedestrians < 0:
        raise SkycellError("simulate: user counts must be >= 0")
    scenario = deployment_scenario(deployment)
    city = deployment_city(deployment)
    kind, channel = channel_engine(scenario, city, engine, samples, memory_gb, diffraction)
    records: list[TrajectoryRecord] = []
    if users_per_area > 0 and scenario.areas_of_interest:
        if status is not None:
            status(f"{users_per_area} walkers per area …")
        walkers = aoi_walkers(
            scenario, city, users_per_area=users_per_area, steps=steps, dt_s=dt_s, seed=seed
        )
        records += [w.to_record() for w in walkers]
    records += list(deployment.user_trajectories)
    if sumo_vehicles or sumo_pedestrians:
        records += _sumo_records(
            deployment, sumo_vehicles, sumo_pedestrians, steps, dt_s, seed, status
        )
    users = UserTracks.resample(records, steps=steps, dt_s=dt_s)

    st = deployment.stations
    ids = [s.id for s in st]
    if fly_routes:
        track = np.stack(
            [
                route_track(
                    s.route_m or [s.position_m], steps=steps, dt_s=dt_s, speed_mps=speed_mps
                )
                for s in st
            ],
            axis=1,
        )
    else:
        track = deployment.station_xyz_m()
    after = {
        "tx_power_dbm": [s.tx_power_dbm for s in st],
        "azimuth_deg": [s.azimuth_deg for s in st],
        "tilt_deg": [s.tilt_deg for s in st],
    }
    runs: list[tuple[str, dict[str, list[float]]]] = [("deployed", after)]
    tuning = deployment.metrics.get("tuning")
    if isinstance(tuning, dict) and "initial_tilt_deg" in tuning:
        before = {
            "tx_power_dbm": list(tuning["initial_tx_power_dbm"]),
            "azimuth_deg": list(tuning["initial_azimuth_deg"]),
            "tilt_deg": list(tuning["initial_tilt_deg"]),
        }
        runs = [("before tuning", before), ("after tuning", after)]
    results = []
    for label, settings in runs:
        if status is not None:
            status(f"simulating {label} ({kind} engine) …")

        def on_step(done: int, total: int, label: str = label) -> None:
            if progress is not None:
                progress(label, done, total)

        results.append(
            simulate(
                channel,
                users,
                station_ids=ids,
                station_xyz_m=track,
                noise_dbm=scenario.noise_floor_dbm,
                label=label,
                progress=on_step,
                **settings,
            )
        )
    known = {t.id for t in deployment.user_trajectories}
    added = [r for r in records if r.id not in known]
    out = deployment.model_copy(
        update={"user_trajectories": [*deployment.user_trajectories, *added]}
    )
    return SimulationRun(results=results, deployment=out, engine=kind)


def channel_engine(
    scenario: Any,
    city: Any,
    engine: str | None,
    samples: int | None = None,
    memory_gb: float | None = None,
    diffraction: bool | None = None,
) -> tuple[str, PowerEngine]:
    """The engine kind (``engine``, default the scenario's ``engine.kind``) and the channel
    engine built from the scenario; ``samples`` overrides Sionna's rays per station,
    ``memory_gb`` its memory per path trace [GB] and ``diffraction`` its edge diffraction.

    Raises:
        SkycellError: an unknown kind, samples < 1, memory_gb <= 0, or Sionna unavailable.
    """
    from skycell.plan.pipeline import make_engine, make_sionna_engine
    from skycell.scenario import ENGINE_KINDS

    kind = engine if engine is not None else scenario.engine.kind
    if kind not in ENGINE_KINDS:
        raise SkycellError(f"unknown engine {kind!r}; choose one of {', '.join(ENGINE_KINDS)}")
    if kind != "sionna":
        return kind, make_engine(scenario, city)
    updates: dict[str, Any] = {}
    if samples is not None:
        if samples < 1:
            raise SkycellError(f"samples must be >= 1, got {samples}")
        updates["samples"] = int(samples)
    if memory_gb is not None:
        if not (math.isfinite(memory_gb) and memory_gb > 0):
            raise SkycellError(f"memory_gb must be a positive number of GB, got {memory_gb}")
        updates["memory_gb"] = float(memory_gb)
    if diffraction is not None:
        updates["diffraction"] = diffraction
    if updates:
        scenario = scenario.model_copy(
            update={"engine": scenario.engine.model_copy(update=updates)}
        )
    return kind, make_sionna_engine(scenario, city)


def _sumo_records(
    deployment: Any,
    vehicles: int,
    pedestrians: int,
    steps: int,
    dt_s: float,
    seed: int,
    status: Callable[[str], None] | None,
) -> list[TrajectoryRecord]:
    """SUMO road users on the street network of the deployment's generated city."""
    import tempfile

    from skycell.twin.mobility import street_network_for_city, sumo_trajectories

    spec = deployment.scenario.get("city", {})
    if not isinstance(spec, dict) or spec.get("generate") is None:
        raise SkycellError(
            "simulate: SUMO users need the street network of a generated city "
            "(city: {generate: ...}); this deployment's city is not generated"
        )
    if status is not None:
        status(f"SUMO: {vehicles} vehicles, {pedestrians} pedestrians …")
    with tempfile.TemporaryDirectory(prefix="skycell-sumo-") as tmp:
        net = street_network_for_city(deployment_scenario_with_city(deployment), Path(tmp))
        tracks = sumo_trajectories(
            net, vehicles=vehicles, pedestrians=pedestrians, steps=steps, dt_s=dt_s, seed=seed
        )
    return [t.to_record() for t in tracks]


def deployment_scenario_with_city(deployment: Any) -> Any:
    """The deployment's scenario with its original city source (for the street network)."""
    from skycell.scenario import scenario_from_dict

    return scenario_from_dict(dict(deployment.scenario), source="deployment.scenario")
