"""Per-user coverage spheres of paper 003 (RLTOPA §V-C, eqs. 2-3) and their intersection.

Each user's demand fixes the lowest 802.11ac MCS that carries it, that MCS the SNR the UAV must
receive it with, and the link budget (paper 003 eq. 2, the user transmitting uplink at 20 dBm,
0 dBi antennas, noise floor -85 dBm) the largest path loss the link may have. The *sphere* of the
user is the set of UAV positions whose distance to the user is at most the distance at which a
chosen model reaches that loss (eq. 3); the UAV must lie inside every user's sphere (eqs. 1d-1f).

Readings (see ``/work/shared/papers/NOTES.md``, "Paper 003"):

* **Channel width: 160 MHz.** Paper 003's demands 58.5, 117, 175.5 and 234 Mbit/s are exactly
  802.11ac MCS 0-3 with one spatial stream and the 800 ns guard interval on a 160 MHz channel
  (the authors' TOPA code uses 160 MHz), while its Table I says 20 MHz; on 20 MHz only 58.5 Mbit/s
  is reachable at all (MCS 6) and 117-234 Mbit/s exceed the fastest rate (78 Mbit/s). The paper 003
  scenario files therefore set ``radio.channel_width_mhz: 160``; the functions here take the width
  from the scenario and would work on 20 MHz just as well.
* **Sphere model.** ``"free_space"`` (default): Friis loss, the paper's "optimistic" spheres
  (§V-C: "an optimistic approach since it considers path losses which are smaller than the losses
  defined by the ITU model"); the radius is the same at every UAV height. ``"itu_r_p1411_los"``:
  ns-3's ``ItuR1411LosPropagationLossModel`` at the UAV's height
  (:func:`skycell.radio.pathloss.itu_r_p1411_los_path_loss_db`, the model a LoS link is simulated
  with), so the radius depends on the UAV height: ``(U, Z)`` radii for ``Z`` heights. With it a
  user in LoS anywhere inside its sphere gets at least its demand from the scenario's link model
  (isotropic antennas). At 5.25 GHz the two models differ by less than 2 dB over 25-200 m.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

from skycell.errors import InfeasibleError
from skycell.radio.link import max_distance_m, user_link_budget
from skycell.radio.pathloss import free_space_path_loss_db, itu_r_p1411_los_path_loss_db

if TYPE_CHECKING:
    from skycell.scenario import Scenario, User

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

#: Models a sphere radius can be computed with.
SPHERE_MODELS: Final[tuple[str, ...]] = ("free_space", "itu_r_p1411_los")

#: Largest sphere radius searched for [m] (a budget met even here is reported as this radius).
MAX_RADIUS_M: Final[float] = 1.0e5


def _check_model(model: str) -> None:
    if model not in SPHERE_MODELS:
        raise ValueError(
            f"unknown sphere model {model!r}; choose one of: {', '.join(map(repr, SPHERE_MODELS))}"
        )


def sphere_radius_m(
    max_path_loss_db: ArrayLike,
    *,
    model: str = "free_space",
    frequency_hz: float,
    uav_height_m: ArrayLike | None = None,
    user_height_m: ArrayLike = 1.5,
) -> FloatArray:
    """Largest UAV-user distance [m] at which each user's path-loss budget is still met.

    Paper 003 eq. 3: the radius ``d_max`` of the user's sphere. ``free_space`` inverts Friis in
    closed form, ``d = c / (4 pi f) 10^(PL_max / 20)`` (``(U,)`` radii). ``itu_r_p1411_los`` solves
    ``PL_1411,LoS(d; h_UAV, h_user) <= PL_max`` by vectorised bisection
    (:func:`skycell.radio.link.max_distance_m`) for every user and every UAV height at once
    (``(U, Z)`` radii). A NaN budget (infeasible demand) gives a NaN radius.

    Args:
        max_path_loss_db: ``(U,)`` path-loss budgets [dB] (paper 003 eq. 2).
        model: one of :data:`SPHERE_MODELS`.
        frequency_hz: carrier frequency [Hz] (paper 003: 5.25e9).
        uav_height_m: ``(Z,)`` UAV heights [m]; required by ``itu_r_p1411_los``.
        user_height_m: scalar or ``(U,)`` user antenna heights [m].

    Returns:
        ``(U,)`` radii for ``free_space``, ``(U, Z)`` for ``itu_r_p1411_los`` [m].

    Raises:
        ValueError: unknown model, or ``itu_r_p1411_los`` without ``uav_height_m``.
    """
    _check_model(model)
    budget = np.atleast_1d(np.asarray(max_path_loss_db, dtype=np.float64))
    bad = ~np.isfinite(budget)
    safe = np.where(bad, 0.0, budget)
    if model == "free_space":
        fs_1m = float(free_space_path_loss_db(1.0, frequency_hz))
        radius = np.power(10.0, (safe - fs_1m) / 20.0)
        return np.asarray(np.where(bad, np.nan, np.minimum(radius, MAX_RADIUS_M)), dtype=np.float64)
    if uav_height_m is None:
        raise ValueError("sphere model 'itu_r_p1411_los' needs the UAV heights uav_height_m [m]")
    h_uav = np.atleast_1d(np.asarray(uav_height_m, dtype=np.float64))[None, :]  # (1, Z)
    h_user = np.broadcast_to(np.asarray(user_height_m, dtype=np.float64), budget.shape)[:, None]
    grid_budget = np.broadcast_to(safe[:, None], (budget.size, h_uav.shape[1]))

    def loss(d: FloatArray) -> FloatArray:
        return itu_r_p1411_los_path_loss_db(
            d, frequency_hz, station_height_m=h_uav, user_height_m=h_user
        )

    radius = max_distance_m(loss, grid_budget, d_min_m=1e-3, d_max_m=MAX_RADIUS_M, tol_m=1e-4)
    return np.asarray(np.where(bad[:, None], np.nan, radius), dtype=np.float64)


@dataclass(frozen=True)
class CoverageSpheres:
    """The users' spheres (paper 003 eqs. 2-3).

    Attributes:
        centres_m: ``(U, 3)`` user positions [m].
        radii_m: ``(U,)`` radii [m], or ``(U, Z)`` radii for the UAV heights ``heights_m``.
        heights_m: ``(Z,)`` UAV heights [m] of 2-D radii, ``None`` for 1-D radii.
        max_path_loss_db: ``(U,)`` path-loss budgets [dB].
        required_snr_db: ``(U,)`` SNR each demand's MCS needs [dB].
        mcs: ``(U,)`` 802.11ac MCS of each demand (-1 for NR).
        model: the sphere model (one of :data:`SPHERE_MODELS`).
    """

    centres_m: FloatArray
    radii_m: FloatArray
    heights_m: FloatArray | None
    max_path_loss_db: FloatArray
    required_snr_db: FloatArray
    mcs: NDArray[np.int64]
    model: str

    def radii_at(self, z_m: ArrayLike) -> FloatArray:
        """``(U, P)`` radii [m] for UAVs at heights ``z_m`` ``(P,)`` (linear in height between
        the tabulated ``heights_m``, constant outside them)."""
        return _radii_at(self.radii_m, self.heights_m, z_m)


def _radii_at(radii_m: FloatArray, heights_m: FloatArray | None, z_m: ArrayLike) -> FloatArray:
    z = np.atleast_1d(np.asarray(z_m, dtype=np.float64))
    r = np.asarray(radii_m, dtype=np.float64)
    if r.ndim == 1:
        return np.asarray(np.broadcast_to(r[:, None], (r.shape[0], z.shape[0])))
    if heights_m is None:
        raise ValueError("radii of shape (U, Z) need the UAV heights heights_m (Z,) [m]")
    h = np.asarray(heights_m, dtype=np.float64)
    if h.shape != (r.shape[1],):
        raise ValueError(f"heights_m must have shape ({r.shape[1]},), got {h.shape}")
    if h.size == 1:
        return np.asarray(np.broadcast_to(r[:, :1], (r.shape[0], z.shape[0])))
    k = np.clip(np.searchsorted(h, z, side="right") - 1, 0, h.size - 2)
    w = np.clip((z - h[k]) / (h[k + 1] - h[k]), 0.0, 1.0)
    return np.asarray(r[:, k] * (1.0 - w) + r[:, k + 1] * w, dtype=np.float64)


def coverage_spheres(
    centres_m: ArrayLike,
    demand_bps: ArrayLike,
    *,
    standard: str,
    tx_power_dbm: float,
    noise_floor_dbm: float,
    frequency_hz: float,
    bandwidth_hz: float = 20e6,
    channel_width_mhz: int = 160,
    guard_interval_ns: int = 800,
    spatial_streams: int = 1,
    antenna_gains_dbi: float = 0.0,
    model: str = "free_space",
    heights_m: ArrayLike | None = None,
    ids: tuple[str, ...] | None = None,
) -> CoverageSpheres:
    """The coverage sphere of every user (paper 003 eqs. 2-3), vectorised over users and heights.

    demand -> lowest MCS -> required SNR -> ``PL_max = P_tx + G - N - SNR_req``
    (:func:`skycell.radio.link.user_link_budget`) -> radius (:func:`sphere_radius_m`).

    Args:
        centres_m: ``(U, 3)`` user positions [m].
        demand_bps: ``(U,)`` demands [bit/s].
        standard: ``"wifi-80211ac"`` (paper 003) or ``"nr"``.
        tx_power_dbm: transmit power of the link [dBm] (paper 003: the user's 20 dBm uplink).
        noise_floor_dbm: noise floor [dBm] (paper 003: -85 dBm).
        frequency_hz: carrier frequency [Hz] (paper 003: 5.25e9).
        bandwidth_hz: channel bandwidth for ``nr`` [Hz].
        channel_width_mhz, guard_interval_ns, spatial_streams: 802.11ac PHY (see the module
            docstring for the 160 MHz reading).
        antenna_gains_dbi: sum of both antenna gains [dBi] (paper 003: 0).
        model: sphere model, one of :data:`SPHERE_MODELS`.
        heights_m: ``(Z,)`` UAV heights [m] (required by ``itu_r_p1411_los``).
        ids: user names for the error message (default ``user<index>``).

    Raises:
        InfeasibleError: some demand exceeds every MCS; names every such user and why.
        ValueError: unknown model or malformed arrays.
    """
    c = np.asarray(centres_m, dtype=np.float64).reshape(-1, 3)
    d = np.atleast_1d(np.asarray(demand_bps, dtype=np.float64))
    if d.shape != (c.shape[0],):
        raise ValueError(f"demand_bps must have shape ({c.shape[0]},), got {d.shape}")
    _check_model(model)
    budget = user_link_budget(
        d,
        standard=standard,
        tx_power_dbm=tx_power_dbm,
        noise_floor_dbm=noise_floor_dbm,
        bandwidth_hz=bandwidth_hz,
        channel_width_mhz=channel_width_mhz,
        guard_interval_ns=guard_interval_ns,
        spatial_streams=spatial_streams,
        antenna_gains_dbi=antenna_gains_dbi,
    )
    names = ids if ids is not None else tuple(f"user{i}" for i in range(c.shape[0]))
    if not budget.feasible.all():
        bad = np.flatnonzero(~budget.feasible)
        raise InfeasibleError(
            f"{bad.size} user demand(s) cannot be carried by any rate of the radio; lower the "
            "demand, widen the channel (radio.channel_width_mhz) or add spatial streams",
            {names[i]: f"demand {d[i] / 1e6:g} Mbit/s: {budget.reason[i]}" for i in bad},
        )
    h = None if heights_m is None else np.atleast_1d(np.asarray(heights_m, dtype=np.float64))
    radii = sphere_radius_m(
        budget.max_path_loss_db,
        model=model,
        frequency_hz=frequency_hz,
        uav_height_m=h,
        user_height_m=c[:, 2],
    )
    return CoverageSpheres(
        centres_m=c,
        radii_m=radii,
        heights_m=h if radii.ndim == 2 else None,
        max_path_loss_db=budget.max_path_loss_db,
        required_snr_db=budget.required_snr_db,
        mcs=budget.mcs,
        model=model,
    )


def user_spheres(
    scenario: Scenario,
    users: tuple[User, ...],
    *,
    model: str = "free_space",
    heights_m: ArrayLike | None = None,
) -> CoverageSpheres:
    """:func:`coverage_spheres` of a scenario's users with its radio settings.

    The link that must carry each demand follows ``radio.link_direction``: ``uplink`` (paper 003)
    uses ``radio.user_tx_power_dbm``, ``downlink`` ``radio.tx_power_dbm``; the noise floor is
    ``scenario.noise_floor_dbm``; antennas count 0 dBi (paper 003 Table I: isotropic).

    Raises:
        InfeasibleError: some demand exceeds every MCS (names the users).
    """
    r = scenario.radio
    tx = r.link_tx_power_dbm
    return coverage_spheres(
        np.array([u.position_m for u in users], dtype=np.float64).reshape(-1, 3),
        np.array([u.demand_bps for u in users], dtype=np.float64),
        standard=r.standard,
        tx_power_dbm=tx,
        noise_floor_dbm=scenario.noise_floor_dbm,
        frequency_hz=r.frequency_hz,
        bandwidth_hz=r.bandwidth_hz,
        channel_width_mhz=r.channel_width_mhz,
        guard_interval_ns=r.guard_interval_ns,
        spatial_streams=r.spatial_streams,
        model=model,
        heights_m=heights_m,
        ids=tuple(u.id for u in users),
    )


def inside_spheres(
    points_m: ArrayLike,
    centres_m: ArrayLike,
    radii_m: ArrayLike,
    *,
    heights_m: ArrayLike | None = None,
) -> BoolArray:
    """``(U, P)`` True where point p lies inside (or on) user u's sphere.

    Args:
        points_m: ``(P, 3)`` UAV positions [m].
        centres_m: ``(U, 3)`` sphere centres (user positions) [m].
        radii_m: ``(U,)`` radii, or ``(U, Z)`` radii for the UAV heights ``heights_m`` [m]
            (interpolated linearly in height between them).
        heights_m: ``(Z,)`` heights [m] of 2-D radii.
    """
    p = np.asarray(points_m, dtype=np.float64).reshape(-1, 3)
    c = np.asarray(centres_m, dtype=np.float64).reshape(-1, 3)
    h = None if heights_m is None else np.asarray(heights_m, dtype=np.float64)
    r = _radii_at(np.asarray(radii_m, dtype=np.float64), h, p[:, 2])  # (U, P)
    d2 = ((c[:, None, :] - p[None, :, :]) ** 2).sum(axis=-1)
    return np.asarray(d2 <= r * r, dtype=bool)


def inside_all_spheres(
    points_m: ArrayLike,
    centres_m: ArrayLike,
    radii_m: ArrayLike,
    *,
    heights_m: ArrayLike | None = None,
) -> BoolArray:
    """``(P,)`` True where a point lies inside every sphere: paper 003's target subspace (the
    "joint area of the spheres", eqs. 1d-1f and Fig. 1). Arguments as :func:`inside_spheres`;
    with no sphere every point qualifies."""
    inside = inside_spheres(points_m, centres_m, radii_m, heights_m=heights_m)
    return np.asarray(inside.all(axis=0), dtype=bool)


def intersection_bbox_m(
    centres_m: ArrayLike, radii_m: ArrayLike
) -> tuple[FloatArray, FloatArray] | None:
    """An axis-aligned box ``(lo (3,), hi (3,))`` [m] containing the spheres' intersection.

    The intersection of the spheres' own bounding boxes, ``[max(c - r), min(c + r)]`` per axis:
    every point inside all spheres lies in it (it is not tight). With ``(U, Z)`` radii each user's
    largest radius is used. ``None`` when the boxes do not overlap (then the spheres do not
    either).
    """
    c = np.asarray(centres_m, dtype=np.float64).reshape(-1, 3)
    r = np.asarray(radii_m, dtype=np.float64)
    if r.ndim == 2:
        r = r.max(axis=1)
    if c.shape[0] == 0:
        return np.full(3, -np.inf), np.full(3, np.inf)
    lo = (c - r[:, None]).max(axis=0)
    hi = (c + r[:, None]).min(axis=0)
    if np.any(lo > hi) or not np.all(np.isfinite(lo) & np.isfinite(hi)):
        return None
    return lo, hi
