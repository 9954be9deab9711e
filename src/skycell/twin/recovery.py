"""Recovery of a mission-critical user's lost coverage, end to end (paper 000 §VII, Fig. 12).

:func:`run_recovery` simulates the critical user's walk (its trajectory in the deployment),
takes the received power from its serving station every step, detects the drops
(:func:`skycell.plan.recover.detect_drops`: T_min, c_min, s_p), plans the station's recovery
route and its reaction / stationary / return schedule
(:func:`skycell.plan.recover.recover_user`, eq. 22), then simulates the walk again with the
station flying that schedule, and reports the user's power before and after at every step.
The other stations stay where they are. The engine is the analytic one or Sionna RT.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.fileio import atomic_write

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class RecoveryRun:
    """What :func:`run_recovery` produced.

    Attributes:
        user_id, station_id: the critical user and its serving station.
        dt_s: step [s].
        power_before_w, power_after_w: ``(T,)`` the user's received power from the station [W].
        recovery: the :class:`skycell.plan.recover.Recovery` (drops, routes, station track,
            phases).
        t_min_w: the detection threshold [W].
        engine: engine kind.
        deployment: the input deployment with ``metrics.recovery`` added.
    """

    user_id: str
    station_id: str
    dt_s: float
    power_before_w: FloatArray
    power_after_w: FloatArray
    recovery: Any
    t_min_w: float
    engine: str
    deployment: Any

    def drop_gain(self) -> list[float]:
        """Per drop, the median over its steps of power after / power before."""
        return [
            float(
                np.median(
                    self.power_after_w[d.t_start : d.t_end + 1]
                    / np.maximum(self.power_before_w[d.t_start : d.t_end + 1], 1e-300)
                )
            )
            for d in self.recovery.drops
        ]

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly summary."""
        return {
            "user": self.user_id,
            "station": self.station_id,
            "engine": self.engine,
            "dt_s": self.dt_s,
            "t_min_w": self.t_min_w,
            "power_before_w": self.power_before_w.tolist(),
            "power_after_w": self.power_after_w.tolist(),
            "drop_median_gain": self.drop_gain(),
            **self.recovery.to_dict(),
        }


def run_recovery(
    deployment: Any,
    user_id: str,
    *,
    station_id: str | None = None,
    engine: str | None = None,
    t_min_w: float = 1e-14,
    c_min: int = 3,
    s_p: int = 5,
    samples: int | None = None,
    memory_gb: float | None = None,
    diffraction: bool | None = None,
    status: Callable[[str], None] | None = None,
) -> RecoveryRun:
    """Detect the critical user's coverage drops and recover them (paper 000 §VII).

    Args:
        deployment: a deployment whose ``user_trajectories`` contain ``user_id``.
        user_id: the critical user.
        station_id: its serving station (default: the strongest on average over the walk).
        engine: ``analytic`` or ``sionna`` (default the scenario's ``engine.kind``).
        t_min_w, c_min, s_p: detection settings (paper 000 §VII-C: 1e-14 W, 3, 5).
        samples: Sionna rays per station and step (default ``engine.samples``).
        memory_gb: Sionna memory per path trace [GB] (default ``engine.memory_gb``).
        diffraction: Sionna edge diffraction (default ``engine.diffraction``).
        status: ``status(message)`` for progress.

    Raises:
        SkycellError: unknown user or station, a user without a trajectory, bad settings.
    """
    from skycell.plan.pipeline import deployment_city, deployment_scenario
    from skycell.plan.recover import recover_user
    from skycell.twin.simulate import UserTracks, channel_engine, simulate

    tracks = {t.id: t for t in deployment.user_trajectories}
    if user_id not in tracks:
        names = sorted(tracks)
        known = ", ".join(names[:8]) or "none"
        if len(names) > 8:
            known += f", ... ({len(names)} in all)"
        raise SkycellError(
            f"recover: no user {user_id!r} with a trajectory in the deployment (users with "
            f"trajectories: {known}); give the user a trajectory_m in the scenario"
        )
    record = tracks[user_id]
    if len(record.positions_m) < 2:
        raise SkycellError(f"recover: user {user_id!r} has a single position; nothing to follow")
    scenario = deployment_scenario(deployment)
    city = deployment_city(deployment)
    steps = len(record.positions_m) - 1
    users = UserTracks.resample([record], steps=steps, dt_s=record.dt_s)
    st = deployment.stations
    ids = [s.id for s in st]
    if station_id is not None and station_id not in ids:
        raise SkycellError(f"recover: no station {station_id!r}; stations: {', '.join(ids)}")
    kind, channel = channel_engine(scenario, city, engine, samples, memory_gb, diffraction)
    power_dbm = [s.tx_power_dbm for s in st]
    azimuth = [s.azimuth_deg for s in st]
    tilt = [s.tilt_deg for s in st]

    def stepper(text: str) -> Callable[[int, int], None] | None:
        if status is None:
            return None
        report = status
        return lambda done, total: report(f"{text} step {done}/{total} ({kind} engine) …")

    if status is not None:
        status(f"simulating {user_id}'s walk ({steps} steps, {kind} engine) …")
    before = simulate(
        channel,
        users,
        station_ids=ids,
        station_xyz_m=deployment.station_xyz_m(),
        noise_dbm=scenario.noise_floor_dbm,
        label="before recovery",
        progress=stepper(f"simulating {user_id}'s walk:"),
        tx_power_dbm=power_dbm,
        azimuth_deg=azimuth,
        tilt_deg=tilt,
    )
    k = (
        ids.index(station_id)
        if station_id is not None
        else int(np.argmax(before.rx_power_dbm[:, :, 0].mean(axis=0)))
    )
    power_before = 10.0 ** ((before.rx_power_dbm[:, k, 0] - 30.0) / 10.0)
    if status is not None:
        status("detecting drops and planning the recovery route …")
    station_xyz = deployment.station_xyz_m()[k]
    rec = recover_user(
        power_before,
        users.xyz_m[:, 0, :],
        station_xyz,
        city,
        altitude_m=float(station_xyz[2]),
        clearance_m=scenario.fleet.building_clearance_m,
        t_min_w=t_min_w,
        c_min=c_min,
        s_p=s_p,
    )
    power_after = power_before.copy()
    if rec.drops:
        track = np.repeat(deployment.station_xyz_m()[None], steps + 1, axis=0)
        track[:, k, :] = rec.station_track_m
        if status is not None:
            status("simulating the walk again with the recovery manoeuvre …")
        after = simulate(
            channel,
            users,
            station_ids=ids,
            station_xyz_m=track,
            noise_dbm=scenario.noise_floor_dbm,
            label="after recovery",
            progress=stepper("simulating the walk again with the recovery manoeuvre:"),
            tx_power_dbm=power_dbm,
            azimuth_deg=azimuth,
            tilt_deg=tilt,
        )
        power_after = 10.0 ** ((after.rx_power_dbm[:, k, 0] - 30.0) / 10.0)
    run = RecoveryRun(
        user_id=user_id,
        station_id=ids[k],
        dt_s=record.dt_s,
        power_before_w=power_before,
        power_after_w=power_after,
        recovery=rec,
        t_min_w=t_min_w,
        engine=kind,
        deployment=deployment,
    )
    out = deployment.model_copy(
        update={"metrics": {**deployment.metrics, "recovery": run.to_dict()}}
    )
    return replace(run, deployment=out)


def plot_recovery(run: RecoveryRun, path: str | Path) -> Path:
    """Paper 000 Fig. 12: the user's received power per step before (top) and after (bottom)
    the recovery, log scale, with T_min and the reaction / stationary / return phases."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from skycell.plan.recover import PHASES

    t = np.arange(run.power_before_w.size) * run.dt_s
    colors = {"reaction": "#f4c542", "stationary": "#5fb35f", "return": "#5f8fd0"}
    fig, axes = plt.subplots(2, 1, figsize=(10, 6), sharex=True, sharey=True)
    for ax, power, title in (
        (axes[0], run.power_before_w, "before recovery"),
        (axes[1], run.power_after_w, "after recovery"),
    ):
        below = power < run.t_min_w
        ax.bar(t, power, width=0.8 * run.dt_s, color=np.where(below, "#c0392b", "#34495e"))
        ax.axhline(run.t_min_w, color="black", ls="--", lw=1, label=f"T_min = {run.t_min_w:g} W")
        for d in run.recovery.drops:
            ax.axvspan(
                (d.t_start - 0.5) * run.dt_s, (d.t_end + 0.5) * run.dt_s, color="red", alpha=0.06
            )
        if title.startswith("after"):
            for name, color in colors.items():
                code = PHASES.index(name)
                steps = np.nonzero(run.recovery.phase == code)[0]
                if steps.size:
                    ax.scatter(
                        t[steps], np.full(steps.size, run.t_min_w * 1e-3), marker="s", s=14,
                        color=color, label=name,
                    )  # fmt: skip
        ax.set_yscale("log")
        ax.set_ylabel("received power [W]")
        ax.set_title(f"{run.user_id} from {run.station_id}: {title}", fontsize=10)
        ax.legend(fontsize=8, loc="lower right")
        ax.grid(alpha=0.3, which="both", axis="y")
    axes[1].set_xlabel("time [s]")
    fig.suptitle("signal-drop recovery (paper 000 Fig. 12)")
    fig.tight_layout()
    out = Path(path)
    atomic_write(out, lambda tmp: fig.savefig(tmp, dpi=120), suffix=".png")
    plt.close(fig)
    return out
