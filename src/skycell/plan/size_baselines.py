"""Paper 004's two baselines (§IV): every UAV at a fixed altitude, and a fixed number of users
per UAV.

* :func:`place_fixed_altitude` — paper 004's "fixed altitude of UAVs (h = 20)" after its
  ref. [13] (Alzenad et al., IEEE WCL 2017, 3-D placement of a UAV-BS). Every UAV hovers at
  ``fleet.altitude_m``; at that height each user's coverage region is a disc
  (:func:`~skycell.plan.size_emtad.coverage_radii_m`), so sizing is a 2-D disc cover: candidate
  positions at that height (disc centres, pairwise lens centres and crossing points, random
  points, a grid: :func:`~skycell.plan.size_emtad.candidate_points`) and Chvátal's greedy set
  cover with the per-UAV limit (5c) (:func:`~skycell.plan.size_emtad.greedy_cover`). No LoS
  probability threshold. Users no position at that height serves stay unserved (a note names
  them): the baseline's weakness is part of what the benchmark shows.
* :func:`place_fixed_users` — a fixed number of users per UAV, after refs. [14, 15]: ``k =
  ceil(U / N_max)`` clusters (``N_max = 10`` as in paper 004 §IV) by k-means on the users'
  ground positions (``scipy.cluster.vq.kmeans2``, k-means++ seeded from the run's generator),
  made balanced (at most ``N_max`` users each) by an optimal assignment of users to the
  centroids repeated ``N_max`` times (``scipy.optimize.linear_sum_assignment``, least total
  distance); one UAV above each cluster's mean position at the height, scanned at
  ``fleet.grid_step_m`` over the altitude range, that serves the most of its users within (5c)
  (ties: highest summed rate). Users it cannot serve there stay unserved (noted).

Both raise :class:`~skycell.errors.InfeasibleError` when they need more UAVs than
``fleet.stations`` or a demand no MCS carries.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

import numpy as np

from skycell.plan.assignment import UserPlacement
from skycell.plan.size_emtad import (
    Progress,
    candidate_points,
    coverage_problem,
    coverage_radii_m,
    fill_rows,
    greedy_cover,
    raise_fleet_too_small,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario, User

__all__ = ["FIXED_USERS_PER_UAV", "place_fixed_altitude", "place_fixed_users"]

#: Paper 004 §IV: the fixed-users baseline associates N_max = 10 users with each UAV.
FIXED_USERS_PER_UAV = 10


def _unserved_note(ids: list[str], assoc: np.ndarray, why: str) -> list[str]:
    lost = np.flatnonzero(assoc < 0)
    if lost.size == 0:
        return []
    names = ", ".join(ids[i] for i in lost[:10]) + (", ..." if lost.size > 10 else "")
    return [f"{lost.size} user(s) unserved ({names}): {why}"]


def place_fixed_altitude(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Progress | None = None,
) -> UserPlacement:
    """Paper 004's fixed-altitude baseline (ref. [13]): every UAV at ``fleet.altitude_m``, a
    greedy 2-D disc cover at that height (module docstring).

    Args:
        scenario, city, users: the inputs.
        seed: seed of the run's random generator (candidate sampling).
        progress: optional ``progress(text, fraction)`` callback.

    Raises:
        InfeasibleError: a demand no MCS carries, or more UAVs than ``fleet.stations``.
    """
    t0 = time.perf_counter()
    say = progress or (lambda _t, _f: None)
    problem = coverage_problem(scenario, city, users)
    alt = float(scenario.fleet.altitude_m)
    problem.altitude_m = (alt, alt)
    if problem.n_users == 0:
        return UserPlacement("fixed-altitude", np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    say(f"fixed-altitude: disc cover at {alt:g} m", 0.1)
    heights = np.array([alt])
    radii = coverage_radii_m(problem, heights)
    pts = candidate_points(problem, radii, heights, np.random.default_rng(seed), random_per_disc=16)
    links = problem.links(pts)
    share = np.where(links.serves, links.share, np.inf)
    chosen, assoc = greedy_cover(problem, links.serves, share, links.rate_bps)
    xyz = pts[chosen].reshape(-1, 3)
    if xyz.shape[0] > scenario.fleet.stations:
        raise_fleet_too_small(problem, xyz.shape[0], assoc, method="fixed-altitude")
    return UserPlacement(
        method="fixed-altitude",
        station_xyz_m=xyz,
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        notes=_unserved_note(
            problem.ids, assoc, f"no position at the fixed altitude {alt:g} m carries their demand"
        ),
        extra={"altitude_m": alt, "candidate_points": int(pts.shape[0])},
    )


def place_fixed_users(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Progress | None = None,
    users_per_uav: int = FIXED_USERS_PER_UAV,
) -> UserPlacement:
    """Paper 004's fixed-users baseline (refs. [14, 15]): balanced k-means clusters of at most
    ``users_per_uav`` users, one UAV above each at its best height (module docstring).

    Args:
        scenario, city, users: the inputs.
        seed: seed of the run's random generator (k-means++ initialisation).
        progress: optional ``progress(text, fraction)`` callback.
        users_per_uav: N_max, users per UAV (paper 004: 10).

    Raises:
        InfeasibleError: a demand no MCS carries, or more UAVs than ``fleet.stations``.
    """
    from scipy.cluster.vq import kmeans2
    from scipy.optimize import linear_sum_assignment

    t0 = time.perf_counter()
    say = progress or (lambda _t, _f: None)
    problem = coverage_problem(scenario, city, users)
    n_u = problem.n_users
    if n_u == 0:
        return UserPlacement("fixed-users", np.zeros((0, 3)), np.zeros(0, dtype=np.int64))
    rng = np.random.default_rng(seed)
    k = math.ceil(n_u / users_per_uav)
    xy = problem.xyz_m[:, :2]
    say(f"fixed-users: {k} k-means clusters", 0.1)
    if k == 1:
        label = np.zeros(n_u, dtype=np.int64)
    else:
        centroids, _ = kmeans2(xy, k, minit="++", seed=rng)
        cost = np.hypot(
            xy[:, None, 0] - centroids[None, :, 0], xy[:, None, 1] - centroids[None, :, 1]
        )
        row, col = linear_sum_assignment(np.repeat(cost, users_per_uav, axis=1))
        label = np.empty(n_u, dtype=np.int64)
        label[row] = col // users_per_uav
    members = [np.flatnonzero(label == c) for c in range(k)]
    members = [m for m in members if m.size]
    lo, hi = problem.altitude_m
    step = scenario.fleet.grid_step_m
    heights = np.arange(lo, hi + 0.5 * step, step) if hi > lo else np.array([lo])
    stations: list[np.ndarray] = []
    assoc = np.full(n_u, -1, dtype=np.int64)
    for m in members:  # one UAV per cluster (k is small); heights vectorised
        c = xy[m].mean(axis=0)
        cand = np.column_stack((np.full(heights.size, c[0]), np.full(heights.size, c[1]), heights))
        ln = problem.links(cand, m)
        share = np.where(ln.serves, ln.share, np.inf)
        takes = fill_rows(problem, share, ln.serves)
        n_take = takes.sum(axis=1)
        agg = np.where(takes, ln.rate_bps, 0.0).sum(axis=1)
        best = int(np.lexsort((-agg, -n_take))[0])
        assoc[m[takes[best]]] = len(stations)
        stations.append(cand[best])
    xyz = np.array(stations, dtype=np.float64).reshape(-1, 3)
    if xyz.shape[0] > scenario.fleet.stations:
        raise_fleet_too_small(problem, xyz.shape[0], label, method="fixed-users")
    return UserPlacement(
        method="fixed-users",
        station_xyz_m=xyz,
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        notes=_unserved_note(
            problem.ids,
            assoc,
            "their cluster's UAV cannot carry their demand within the per-UAV limit from "
            "above the cluster centre",
        ),
        extra={"users_per_uav": users_per_uav, "clusters": len(members)},
    )
