"""The exact fewest-UAV plan: a MILP over candidate positions, solved with HiGHS (skycell).

Paper 004's problem P (eq. 5) with the UAV positions restricted to a finite candidate set is a
capacitated set-cover MILP that HiGHS (``highspy``) solves to proven optimality on the papers'
instance sizes:

* variables ``y_j`` (UAV at candidate ``j`` active, 5g) and ``x_ij`` (user ``i`` served from
  ``j``, 5f), ``x_ij`` only where the link carries the demand (5b, from
  :func:`skycell.plan.assignment.link_table`, so exactly the rates ``check_placement`` uses);
* ``minimise sum_j y_j`` (5a);
* ``sum_j x_ij = 1`` for every user (5d); ``x_ij <= y_j`` (5e, the strong form: a tight LP);
* (5c) per candidate: ``sum_i x_ij <= cap y_j`` for the whole-user limit
  (:func:`~skycell.plan.assignment.users_per_uav_limit`) and, in the airtime reading (no
  ``fleet.bandwidth_per_uav_hz``), ``sum_i (D_i / R_ij) x_ij <= y_j``;
* ``sum_j y_j <= fleet.stations`` (the N_max available UAVs).

Candidates: :func:`skycell.plan.size_emtad.candidate_points` at ``exact.height_levels``
altitudes (every disc centre, the lens centre and both crossing points of every overlapping pair
of coverage discs, random points in each disc, a grid), plus EMTAD's zone points and its final
UAV positions with its association as the MIP start: the optimum over this set is never worse
than EMTAD. The set is pruned of dominated candidates before solving: candidates serving nobody;
among candidates serving the same users the one with the lowest total airtime (airtime reading)
or any one (user-cap reading); with the user-cap reading also every candidate whose users are a
strict subset of another's. Pruning keeps EMTAD's positions. If more than ``exact.candidates``
remain, those serving the most users are kept.

``proven_optimal`` means HiGHS proved the count minimal **over the candidate set** (within
``exact.mip_rel_gap``), or EMTAD's count already met the lower bound; ``lower_bound`` is the
larger of ``ceil`` of the LP relaxation over the same set (solved separately, interior point) and
the capacity bound (:func:`size_bounds`), the latter valid for any position. Among
optimal plans, the users are finally re-assigned to the chosen UAVs to maximise the summed rate.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

import numpy as np
import scipy.sparse as sp

from skycell.errors import InfeasibleError, SkycellError
from skycell.plan.assignment import UserPlacement
from skycell.plan.size_emtad import (
    CoverageProblem,
    FloatArray,
    IntArray,
    Links,
    MilpResult,
    Progress,
    assign_users,
    candidate_points,
    coverage_problem,
    coverage_radii_m,
    height_levels_m,
    pack_rows,
    raise_unreachable,
    run_emtad,
    solve_milp,
)

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario, User

__all__ = ["candidate_set", "place_exact", "size_bounds"]


def _candidates(
    problem: CoverageProblem, rng: np.random.Generator, *, random_per_disc: int = 16
) -> FloatArray:
    """Sampled candidate positions at the exact method's altitude levels."""
    heights = height_levels_m(problem, problem.scenario.placement.exact.height_levels)
    radii = coverage_radii_m(problem, heights)
    return candidate_points(problem, radii, heights, rng, random_per_disc=random_per_disc)


def _prune(problem: CoverageProblem, links: Links, forced: IntArray, limit: int) -> IntArray:
    """Indices of the candidates kept for the MILP (module docstring); ``forced`` always kept.

    Drops candidates serving nobody. User-cap reading: one candidate per distinct group of users
    and only maximal groups (exact dominance: a subset group is never needed). Airtime reading:
    the candidates of a group are ranked by total airtime (then summed rate) and kept rank by
    rank across all groups (every group's best first) up to ``limit`` - a heuristic pruning, as
    candidates with different airtime profiles do not dominate each other.
    """
    serves = links.serves
    n = serves.shape[0]
    is_forced = np.zeros(n, dtype=bool)
    is_forced[forced] = True
    count = serves.sum(axis=1)
    idx = np.flatnonzero((count > 0) & ~is_forced)
    words = pack_rows(serves)
    tot_share = np.where(serves, links.share, 0.0).sum(axis=1)
    tot_rate = np.where(serves, links.rate_bps, 0.0).sum(axis=1)
    _, inverse = np.unique(words[idx], axis=0, return_inverse=True)
    inverse = np.asarray(inverse).reshape(-1)
    order = np.lexsort((-tot_rate[idx], tot_share[idx], inverse))
    grp = inverse[order]
    start = np.r_[0, np.flatnonzero(grp[1:] != grp[:-1]) + 1]
    rank = np.arange(order.size) - np.repeat(start, np.diff(np.r_[start, order.size]))
    cand = idx[order]
    if problem.airtime:
        pick = cand[np.lexsort((tot_share[cand], -count[cand], rank))][: max(limit, 0)]
    else:
        firsts = cand[rank == 0]
        kw = words[firsts]
        maximal = np.ones(firsts.size, dtype=bool)
        step = max(1, 2_000_000 // max(1, firsts.size * kw.shape[1]))
        for s in range(0, firsts.size, step):
            block = kw[s : s + step]
            sub = np.all((block[:, None, :] & ~kw[None, :, :]) == 0, axis=2)
            sub[np.arange(block.shape[0]), np.arange(s, s + block.shape[0])] = False
            maximal[s : s + step] = ~sub.any(axis=1)
        pick = firsts[maximal]
        pick = pick[np.lexsort((tot_share[pick], -count[pick]))][: max(limit, 0)]
    return np.asarray(np.union1d(pick, np.flatnonzero(is_forced)), dtype=np.int64)


def candidate_set(
    problem: CoverageProblem,
    rng: np.random.Generator,
    emtad_xyz_m: FloatArray,
    zone_points_m: FloatArray,
) -> tuple[FloatArray, Links, IntArray]:
    """The MILP's candidates: EMTAD's stations (first), its zone points, then the sampled
    positions; their links; and the indices kept after pruning (EMTAD's always kept).

    Raises:
        InfeasibleError: a user no candidate serves (naming it and the best rate it gets).
    """
    sampled = _candidates(problem, rng)
    pts = np.concatenate((emtad_xyz_m.reshape(-1, 3), zone_points_m.reshape(-1, 3), sampled))
    links = problem.links(pts)
    raise_unreachable(problem, links, where="in the positioning volume")
    forced = np.arange(emtad_xyz_m.shape[0] + zone_points_m.shape[0], dtype=np.int64)
    kept = _prune(problem, links, forced, problem.scenario.placement.exact.candidates)
    return pts, links, kept


def _model(
    problem: CoverageProblem, serves: Any, share: FloatArray, n_max: int | None
) -> tuple[FloatArray, Any, FloatArray, FloatArray, IntArray, IntArray]:
    """The MILP of the module docstring: columns ``[y (K), x (E)]``.

    Returns ``(cost, A, row_lower, row_upper, edge_candidate, edge_user)``.
    """
    k, n_u = serves.shape
    ej, ei = np.nonzero(serves)
    n_e = ej.size
    e = np.arange(n_e)
    blocks: list[Any] = []
    lo: list[FloatArray] = []
    hi: list[FloatArray] = []
    # (5d) sum_j x_ij = 1
    blocks.append(
        sp.hstack([sp.csr_matrix((n_u, k)), sp.csr_matrix((np.ones(n_e), (ei, e)), (n_u, n_e))])
    )
    lo.append(np.ones(n_u))
    hi.append(np.ones(n_u))
    # (5e) x_ij - y_j <= 0
    blocks.append(
        sp.hstack(
            [sp.csr_matrix((-np.ones(n_e), (e, ej)), (n_e, k)), sp.identity(n_e, format="csr")]
        )
    )
    lo.append(np.full(n_e, -np.inf))
    hi.append(np.zeros(n_e))
    if problem.cap is not None:  # (5c) user cap: sum_i x_ij - cap y_j <= 0
        blocks.append(
            sp.hstack(
                [
                    sp.diags(np.full(k, -float(problem.cap)), format="csr"),
                    sp.csr_matrix((np.ones(n_e), (ej, e)), (k, n_e)),
                ]
            )
        )
        lo.append(np.full(k, -np.inf))
        hi.append(np.zeros(k))
    if problem.airtime:  # (5c) airtime: sum_i D_i / R_ij x_ij - y_j <= 0
        blocks.append(
            sp.hstack(
                [
                    sp.diags(-np.ones(k), format="csr"),
                    sp.csr_matrix((share[ej, ei], (ej, e)), (k, n_e)),
                ]
            )
        )
        lo.append(np.full(k, -np.inf))
        hi.append(np.zeros(k))
    if n_max is not None:  # at most N_max UAVs
        blocks.append(sp.hstack([sp.csr_matrix(np.ones((1, k))), sp.csr_matrix((1, n_e))]))
        lo.append(np.array([-np.inf]))
        hi.append(np.array([float(n_max)]))
    cost = np.concatenate((np.ones(k), np.zeros(n_e)))
    return (
        cost,
        sp.vstack(blocks).tocsc(),
        np.concatenate(lo),
        np.concatenate(hi),
        np.asarray(ej, dtype=np.int64),
        np.asarray(ei, dtype=np.int64),
    )


def _capacity_bound(problem: CoverageProblem) -> tuple[int, str]:
    """A lower bound on the UAV count valid for any positions: ``ceil(U / cap)`` with a user cap,
    ``ceil(sum D / R_top)`` with airtime sharing (R_top: the fastest rate of the radio)."""
    bounds = [(1 if problem.n_users else 0, "at least one UAV for any user")]
    if problem.cap is not None:
        bounds.append(
            (math.ceil(problem.n_users / problem.cap), f"ceil(U / {problem.cap} users per UAV)")
        )
    if problem.airtime:
        r = problem.scenario.radio
        if r.standard == "wifi-80211ac":
            from skycell.radio.mcs import vht_rate_bps

            top = float(
                np.nanmax(
                    vht_rate_bps(
                        np.arange(10),
                        channel_width_mhz=r.channel_width_mhz,
                        guard_interval_ns=r.guard_interval_ns,
                        spatial_streams=r.spatial_streams,
                    )
                )
            )
            total = float(problem.demand_bps.sum())
            bounds.append(
                (
                    math.ceil(total / top - 1e-9),
                    f"ceil(total demand {total / 1e6:g} Mbit/s / {top / 1e6:g} Mbit/s per UAV)",
                )
            )
    return max(bounds, key=lambda b: b[0])


def _lp_bound(
    cost: FloatArray, a: Any, lo: FloatArray, hi: FloatArray, time_limit_s: float
) -> float:
    """The LP relaxation's optimum (``-inf`` if HiGHS did not finish)."""
    n = cost.size
    res = solve_milp(
        cost,
        a,
        lo,
        hi,
        np.zeros(n),
        np.ones(n),
        integer=np.zeros(n, dtype=bool),
        time_limit_s=time_limit_s,
    )
    return res.dual_bound if res.optimal else -math.inf


def _name_unserved(
    problem: CoverageProblem, serves: Any, share: FloatArray, n_max: int, time_limit_s: float
) -> dict[str, str]:
    """Users left out by the plan serving the most users with ``n_max`` UAVs (a max-coverage
    variant of the MILP: ``sum_j x_ij <= 1``, maximise ``sum x``)."""
    cost, a, lo, hi, _, ei = _model(problem, serves, share, n_max)
    k = serves.shape[0]
    lo = lo.copy()
    lo[: problem.n_users] = 0.0  # (5d) relaxed to <= 1
    cost = np.concatenate((np.full(k, 1e-6), -np.ones(ei.size)))
    n = cost.size
    res = solve_milp(
        cost,
        a,
        lo,
        hi,
        np.zeros(n),
        np.ones(n),
        integer=np.ones(n, dtype=bool),
        time_limit_s=time_limit_s,
    )
    served = np.zeros(problem.n_users, dtype=bool)
    if res.x is not None:
        served[ei[res.x[k:] > 0.5]] = True
    return {
        problem.users[i].id: f"not served by the best plan with {n_max} UAV(s) found"
        for i in np.flatnonzero(~served)
    }


def place_exact(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Progress | None = None,
    emtad: UserPlacement | None = None,
) -> UserPlacement:
    """The fewest UAVs for the users, exactly over a candidate set (paper 004 eq. 5; module
    docstring): a MILP solved with HiGHS, never worse than EMTAD.

    Args:
        scenario: the scenario; ``placement.exact`` sets the time limit, candidate budget, MIP gap
            and altitude levels.
        city: its city.
        users: the users (``scenario.users_in(city)``).
        seed: seed of the run's random generator (candidate sampling, the EMTAD run).
        progress: optional ``progress(text, fraction)`` callback.
        emtad: an EMTAD plan of the same inputs to start from (run here when None).

    Returns:
        A :class:`~skycell.plan.assignment.UserPlacement` serving every user, with
        ``proven_optimal`` (over the candidates), ``lower_bound`` and, in ``extra``, the LP
        bound, the capacity bound, the candidate counts, the HiGHS status and EMTAD's count.

    Raises:
        InfeasibleError: a demand no MCS carries, a user no position serves, or more UAVs needed
            than ``fleet.stations`` (naming the users the best plan with that many leaves out).
        SkycellError: HiGHS found no plan within the time limit (the message says "time limit").
    """
    t0 = time.perf_counter()
    say = progress or (lambda _t, _f: None)
    problem = coverage_problem(scenario, city, users)
    settings = scenario.placement.exact
    n_max = scenario.fleet.stations
    if problem.n_users == 0:
        return UserPlacement("exact", np.zeros((0, 3)), np.zeros(0, dtype=np.int64), 0.0, True, 0)
    rng = np.random.default_rng(seed)
    say("exact: EMTAD start", 0.0)
    zone_points = np.zeros((0, 3))
    if emtad is None:
        run = run_emtad(scenario, city, users, seed=seed, enforce_fleet=False)
        emtad, zone_points = run.placement, run.zone_points_m
    t_emtad = emtad.wall_time_s
    say("exact: candidate positions", 0.2)
    em_xyz = np.asarray(emtad.station_xyz_m, dtype=np.float64).reshape(-1, 3)
    pts, links, kept = candidate_set(problem, rng, em_xyz, zone_points)
    serves = links.serves[kept]
    share = np.where(serves, links.share[kept], 0.0)
    rate = links.rate_bps[kept]
    k = kept.size

    say(f"exact: MILP over {k} candidates", 0.4)
    cost, a, lo, hi, ej, ei = _model(problem, serves, share, n_max)
    n_col = cost.size
    bound, why = _capacity_bound(problem)
    remaining = max(settings.time_limit_s - (time.perf_counter() - t0), 1.0)
    lp = _lp_bound(cost, a, lo, hi, remaining)
    lp_ceil = math.ceil(lp - 1e-5) if math.isfinite(lp) else None

    # MIP start: EMTAD's stations (the first candidates) with its association
    start: FloatArray | None = None
    em_assoc = np.asarray(emtad.association, dtype=np.int64)
    if em_xyz.shape[0] <= n_max and np.all(em_assoc >= 0):
        pos = {int(c): m for m, c in enumerate(kept)}
        y0 = np.zeros(k)
        x0 = np.zeros(ej.size)
        emap = {(int(j), int(i)): e for e, (j, i) in enumerate(zip(ej, ei, strict=True))}
        ok = True
        for i, s in enumerate(em_assoc):
            j = pos.get(int(s))
            e = emap.get((j, i)) if j is not None else None
            if e is None:
                ok = False
                break
            y0[j] = 1.0
            x0[e] = 1.0
        start = np.concatenate((y0, x0)) if ok else None
    remaining = max(settings.time_limit_s - (time.perf_counter() - t0), 1.0)
    if start is not None and em_xyz.shape[0] <= max(bound, lp_ceil or 0):
        # EMTAD's plan already meets a lower bound: it is optimal, no branching needed
        res = MilpResult(
            "Optimal (start meets the lower bound)", True, start, float(y0.sum()), float(y0.sum())
        )
    else:
        res = solve_milp(
            cost,
            a,
            lo,
            hi,
            np.zeros(n_col),
            np.ones(n_col),
            integer=np.ones(n_col, dtype=bool),
            time_limit_s=remaining,
            mip_rel_gap=settings.mip_rel_gap,
            start=start,
        )
    if res.x is None:
        if "nfeasible" in res.status:
            reasons = {
                "fleet.stations": f"{n_max} UAV(s) available; at least "
                f"{max(bound, lp_ceil or 0, n_max + 1)} needed"
            }
            reasons |= _name_unserved(problem, serves, share, n_max, min(remaining, 10.0))
            raise InfeasibleError(
                f"the users need more than the {n_max} UAV(s) of fleet.stations; raise it or "
                "lower the demands",
                reasons,
            )
        raise SkycellError(
            f"exact: HiGHS found no plan within the time limit of {settings.time_limit_s:g} s "
            f"({res.status}); raise placement.exact.time_limit_s or use emtad"
        )
    y = res.x[:k] > 0.5
    chosen = np.flatnonzero(y)
    xe = res.x[k:] > 0.5
    assoc_c = np.full(problem.n_users, -1, dtype=np.int64)
    assoc_c[ei[xe]] = ej[xe]
    # re-assign to the chosen UAVs for the highest summed rate (same count)
    better = assign_users(problem, serves[chosen], share[chosen], rate[chosen])
    if better is not None:
        assoc = better
    else:
        remap = np.full(k, -1, dtype=np.int64)
        remap[chosen] = np.arange(chosen.size)
        assoc = remap[assoc_c]
    xyz = pts[kept[chosen]]
    proven = bool(res.optimal)
    notes: list[str] = []
    if chosen.size > em_xyz.shape[0] and np.all(em_assoc >= 0):  # never expected (MIP start)
        return UserPlacement(
            "exact",
            em_xyz,
            em_assoc,
            time.perf_counter() - t0,
            False,
            float(max(bound, lp_ceil or 0)),
            [*emtad.notes, "exact: HiGHS returned a worse plan than EMTAD's; EMTAD's is kept"],
            {"status": res.status},
        )
    if not proven:
        notes.append(
            f"exact: not proven optimal within {settings.time_limit_s:g} s ({res.status}); "
            f"best bound {math.ceil(res.dual_bound - 1e-6)} UAV(s)"
        )
    lower = max(bound, lp_ceil or 0)
    say("exact: done", 1.0)
    return UserPlacement(
        method="exact",
        station_xyz_m=np.asarray(xyz, dtype=np.float64).reshape(-1, 3),
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        proven_optimal=proven,
        lower_bound=float(lower),
        notes=notes,
        extra={
            "status": res.status,
            "candidates_sampled": int(pts.shape[0]),
            "candidates": int(k),
            "links": int(ej.size),
            "lp_bound": lp_ceil,
            "lp_value": lp if math.isfinite(lp) else None,
            "mip_dual_bound": res.dual_bound if math.isfinite(res.dual_bound) else None,
            "capacity_bound": bound,
            "capacity_bound_reason": why,
            "emtad_stations": int(em_xyz.shape[0]),
            "emtad_wall_time_s": t_emtad,
            "optimal_over": "the candidate set",
        },
    )


def size_bounds(scenario: Scenario, city: City, users: tuple[User, ...]) -> dict[str, Any]:
    """Cheap sizing figures for ``skycell size``: lower bounds on the UAV count.

    Returns a dict with ``users``, ``total_demand_bps``, ``users_per_uav_limit``,
    ``sharing`` (``"airtime"`` or ``"channels"``), ``capacity_bound`` (``ceil(U / cap)`` or
    ``ceil(total demand / fastest rate of one UAV)``, valid for any positions) with its
    ``capacity_bound_reason``, ``lp_bound`` (``ceil`` of the LP relaxation of the MILP over the
    sampled candidates, without EMTAD's points; a bound for that candidate set), ``lower_bound``
    (the larger), ``fleet_stations`` and ``candidates``.

    Raises:
        InfeasibleError: as :func:`place_exact` (demand no MCS carries, unreachable user).
    """
    problem = coverage_problem(scenario, city, users)
    bound, why = _capacity_bound(problem)
    out: dict[str, Any] = {
        "users": problem.n_users,
        "total_demand_bps": float(problem.demand_bps.sum()),
        "users_per_uav_limit": problem.cap,
        "sharing": "airtime" if problem.airtime else "channels",
        "capacity_bound": bound,
        "capacity_bound_reason": why,
        "fleet_stations": scenario.fleet.stations,
    }
    if problem.n_users == 0:
        return out | {"lp_bound": 0, "lower_bound": 0, "candidates": 0}
    pts = _candidates(problem, np.random.default_rng(0))
    links = problem.links(pts)
    raise_unreachable(problem, links, where="in the positioning volume")
    kept = _prune(problem, links, np.zeros(0, dtype=np.int64), scenario.placement.exact.candidates)
    serves = links.serves[kept]
    share = np.where(serves, links.share[kept], 0.0)
    cost, a, lo, hi, _, _ = _model(problem, serves, share, None)
    lp = _lp_bound(cost, a, lo, hi, scenario.placement.exact.time_limit_s)
    lp_ceil = math.ceil(lp - 1e-5) if math.isfinite(lp) else None
    return out | {
        "lp_bound": lp_ceil,
        "lower_bound": max(bound, lp_ceil or 0),
        "candidates": int(kept.size),
    }
