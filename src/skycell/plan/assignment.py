"""Users, their UAV links and the constraints every user-driven placement must meet.

Shared by the sizing and 3D-placement methods of papers 002, 003 and 004 (and skycell's exact
MILP): a common result type, the rate of every UAV-user link under the scenario's channel engine,
a greedy association, and :func:`check_placement`, which states the constraints of paper 004
eqs. 5b-5g on any result:

* every user is served by at most one active UAV (5d, 5e);
* no UAV carries more than ``fleet.max_users_per_uav`` users;
* no UAV exceeds its spectrum (5c): with ``fleet.bandwidth_per_uav_hz`` each user takes one
  channel of ``radio.channel_width_mhz`` (paper 004: 160 MHz per UAV, 20 MHz per user, so at most
  8 users); otherwise the users share one channel in time, ``sum_i D_i / R_i <= 1`` (airtime);
* every served user's link rate is at least its demand (5b);
* every UAV is outside every building.

The link direction follows ``radio.link_direction``: ``uplink`` (paper 003: the user transmits at
``user_tx_power_dbm`` and the UAV access point receives) or ``downlink`` (the station transmits
at ``tx_power_dbm``). Rates: 802.11ac MCS for ``wifi-80211ac`` (the highest MCS whose sensitivity
the received power meets, as ns-3's ideal rate manager picks), Shannon or the attenuated NR bound
(``radio.rate_model``) for ``nr``. Links are
interference-free here (papers 003 and 004 put UAVs on different channels); SINR with co-channel
stations is the job of :mod:`skycell.metrics`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario, User

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


@dataclass
class UserPlacement:
    """Result of a user-driven placement method.

    Attributes:
        method: the method's name (``placement.method``).
        station_xyz_m: ``(K, 3)`` positions of the active UAVs [m].
        association: ``(U,)`` index into ``station_xyz_m`` of each user's UAV, -1 if unserved.
        wall_time_s: time the method took [s] (training included).
        proven_optimal: for exact methods, whether the UAV count is proven minimal.
        lower_bound: a proven lower bound on the UAV count (LP relaxation, ceil(D / C)), if any.
        notes: what a planner should know (infeasible users and why, fallbacks taken, ...).
        extra: method-specific figures (iterations, training time, zones, ...).
    """

    method: str
    station_xyz_m: FloatArray
    association: IntArray
    wall_time_s: float = 0.0
    proven_optimal: bool | None = None
    lower_bound: float | None = None
    notes: list[str] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def station_count(self) -> int:
        """Number of active UAVs."""
        return int(self.station_xyz_m.shape[0])


def users_xyz_m(users: tuple[User, ...]) -> FloatArray:
    """``(U, 3)`` user positions [m]."""
    return np.array([u.position_m for u in users], dtype=np.float64).reshape(-1, 3)


def users_demand_bps(users: tuple[User, ...]) -> FloatArray:
    """``(U,)`` user demands [bit/s]."""
    return np.array([u.demand_bps for u in users], dtype=np.float64)


@dataclass(frozen=True)
class LinkTable:
    """Every UAV-user link: ``(N, U)`` path loss [dB], SNR [dB], rate [bit/s] and LoS."""

    path_loss_db: FloatArray
    snr_db: FloatArray
    rate_bps: FloatArray
    los: NDArray[np.bool_]


def link_table(
    scenario: Scenario,
    city: City,
    station_xyz_m: FloatArray,
    user_xyz_m: FloatArray,
) -> LinkTable:
    """Path loss, SNR, rate and geometric LoS of every station-user link (no interference).

    The path loss comes from the scenario's analytic engine (its model, with LoS or NLoS from the
    city's geometry, and the antenna patterns with stations facing down).
    """
    from skycell.plan.pipeline import make_engine
    from skycell.radio.link import shannon_rate_bps
    from skycell.radio.mcs import nr_rate_bps, vht_rate_from_snr_bps

    st = np.asarray(station_xyz_m, dtype=np.float64).reshape(-1, 3)
    us = np.asarray(user_xyz_m, dtype=np.float64).reshape(-1, 3)
    r = scenario.radio
    engine = make_engine(scenario, city)
    los = engine.line_of_sight(st, us)
    gain_db = engine.path_gain_db(
        st, us, azimuth_deg=np.zeros(st.shape[0]), tilt_deg=np.full(st.shape[0], 90.0), los=los
    )
    tx = r.link_tx_power_dbm
    snr = tx + gain_db - scenario.noise_floor_dbm
    if r.standard == "wifi-80211ac":
        rate = vht_rate_from_snr_bps(
            snr,
            noise_floor_dbm=scenario.noise_floor_dbm,
            channel_width_mhz=r.channel_width_mhz,
            guard_interval_ns=r.guard_interval_ns,
            spatial_streams=r.spatial_streams,
        )
    elif r.rate_model == "nr-attenuated":
        rate = nr_rate_bps(snr, r.bandwidth_hz)
    else:
        rate = shannon_rate_bps(snr, r.bandwidth_hz)
    return LinkTable(
        path_loss_db=np.asarray(-gain_db, dtype=np.float64),
        snr_db=np.asarray(snr, dtype=np.float64),
        rate_bps=np.asarray(rate, dtype=np.float64),
        los=np.asarray(los, dtype=bool),
    )


def users_per_uav_limit(scenario: Scenario) -> int | None:
    """The tightest whole-user cap per UAV: ``fleet.max_users_per_uav`` and, with
    ``fleet.bandwidth_per_uav_hz``, the number of ``channel_width_mhz`` channels it holds."""
    f = scenario.fleet
    caps = []
    if f.max_users_per_uav is not None:
        caps.append(f.max_users_per_uav)
    if f.bandwidth_per_uav_hz is not None:
        caps.append(int(f.bandwidth_per_uav_hz // (scenario.radio.channel_width_mhz * 1e6)))
    return min(caps) if caps else None


def airtime_share(demand_bps: FloatArray, rate_bps: FloatArray) -> FloatArray:
    """Share of a channel's time each user needs: ``D / R`` (inf where the rate is zero)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(
            np.where(demand_bps > 0, demand_bps / np.where(rate_bps > 0, rate_bps, np.nan), 0.0)
        ).astype(np.float64)


def check_placement(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    placement: UserPlacement,
    *,
    rate_tolerance: float = 1e-9,
    table: LinkTable | None = None,
) -> list[str]:
    """Every violated constraint of a placement, as readable sentences (empty when it is valid).

    Checks the constraints in this module's docstring. Unserved users are allowed (a method says
    in its notes why it left a user out); served users must get their demand. ``table``: the
    placement's :func:`link_table`, when the caller already has it.
    """
    problems: list[str] = []
    st = np.asarray(placement.station_xyz_m, dtype=np.float64).reshape(-1, 3)
    assoc = np.asarray(placement.association, dtype=np.int64)
    ids = [u.id for u in users]
    if assoc.shape != (len(users),):
        return [f"association has shape {assoc.shape}, expected ({len(users)},)"]
    if np.any(assoc >= st.shape[0]) or np.any(assoc < -1):
        problems.append("association refers to a UAV that does not exist")
        return problems
    inside = city.inside_building(st) if st.shape[0] else np.zeros(0, dtype=bool)
    for k in np.flatnonzero(inside):
        problems.append(f"UAV {k} at {np.round(st[k], 1).tolist()} is inside a building")
    if st.shape[0] == 0:
        return problems
    if table is None:
        table = link_table(scenario, city, st, users_xyz_m(users))
    demand = users_demand_bps(users)
    served = np.flatnonzero(assoc >= 0)
    rate = table.rate_bps[assoc[served], served]
    short = rate < demand[served] * (1 - rate_tolerance)
    for i, r in zip(served[short], rate[short], strict=True):
        problems.append(
            f"user {ids[i]} gets {r / 1e6:.3g} Mbit/s from UAV {assoc[i]}, below its demand "
            f"{demand[i] / 1e6:.3g} Mbit/s"
        )
    cap = users_per_uav_limit(scenario)
    counts = np.bincount(assoc[served], minlength=st.shape[0])
    if cap is not None:
        for k in np.flatnonzero(counts > cap):
            problems.append(f"UAV {k} serves {counts[k]} users, over the limit of {cap}")
    if scenario.fleet.bandwidth_per_uav_hz is None:
        share = airtime_share(demand[served], rate)
        load = np.bincount(
            assoc[served], weights=np.nan_to_num(share, nan=np.inf), minlength=st.shape[0]
        )
        for k in np.flatnonzero(load > 1.0 + 1e-9):
            problems.append(
                f"UAV {k} needs {load[k]:.2f} of its channel's airtime (sum of demand / rate), "
                "over 1"
            )
    return problems


def placement_summary(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    placement: UserPlacement,
    *,
    table: LinkTable | None = None,
) -> dict[str, Any]:
    """Per-user and aggregate figures of a user-driven placement for ``deployment.json``:
    serving station, LoS (to the serving station, or to any station for an unserved user) and
    link rate per user; users served, users in LoS, demand satisfied, delivered throughput."""
    st = np.asarray(placement.station_xyz_m, dtype=np.float64).reshape(-1, 3)
    assoc = np.asarray(placement.association, dtype=np.int64)
    demand = users_demand_bps(users)
    n_users = len(users)
    if st.shape[0] == 0 or n_users == 0:
        los = np.zeros(n_users, dtype=bool)
        rate = np.zeros(n_users)
    else:
        if table is None:
            table = link_table(scenario, city, st, users_xyz_m(users))
        served = assoc >= 0
        safe = np.where(served, assoc, 0)
        # LoS to the serving station; for an unserved user, to any station
        los = np.where(served, table.los[safe, np.arange(n_users)], table.los.any(axis=0))
        rate = np.where(served, table.rate_bps[safe, np.arange(n_users)], 0.0)
    ok = (assoc >= 0) & (rate >= demand * (1 - 1e-9))
    throughput = delivered_throughput_bps(scenario, assoc, demand, rate, st.shape[0])
    return {
        "users": [
            {
                "id": u.id,
                "position_m": list(u.position_m),
                "demand_bps": float(demand[i]),
                "serving_station": None if assoc[i] < 0 else f"s{int(assoc[i])}",
                "los": bool(los[i]),
                "rate_bps": float(rate[i]),
            }
            for i, u in enumerate(users)
        ],
        "metrics": {
            "station_count": int(st.shape[0]),
            "users_served": int(np.sum(assoc >= 0)),
            "users_in_los": int(np.sum(los)),
            "demand_satisfied_fraction": float(np.mean(ok)) if n_users else 1.0,
            "aggregate_rate_bps": float(np.sum(throughput)),
        },
    }


def delivered_throughput_bps(
    scenario: Scenario,
    association: IntArray,
    demand_bps: FloatArray,
    rate_bps: FloatArray,
    n_stations: int,
) -> FloatArray:
    """Throughput each user actually gets [bit/s]: its demand when its link carries it; a
    best-effort user (demand 0) gets its link rate times an equal share of the airtime its
    station has left after the demands (or its own channel's full rate when each user has a
    channel, ``fleet.bandwidth_per_uav_hz``); unserved users get 0."""
    served = association >= 0
    out = np.where(served & (demand_bps > 0), np.minimum(demand_bps, rate_bps), 0.0)
    best_effort = served & (demand_bps <= 0)
    if not best_effort.any():
        return np.asarray(out, dtype=np.float64)
    if scenario.fleet.bandwidth_per_uav_hz is not None:
        return np.asarray(np.where(best_effort, rate_bps, out), dtype=np.float64)
    k = np.where(served, association, 0)
    used = np.bincount(
        k[served & (demand_bps > 0)],
        weights=airtime_share(demand_bps, rate_bps)[served & (demand_bps > 0)],
        minlength=n_stations,
    )
    n_be = np.bincount(k[best_effort], minlength=n_stations)
    left = np.clip(1.0 - used, 0.0, 1.0) / np.maximum(n_be, 1)
    return np.asarray(np.where(best_effort, rate_bps * left[k], out), dtype=np.float64)
