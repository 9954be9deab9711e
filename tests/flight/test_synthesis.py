"""The synthesised controller (paper 002 §3.3): the BDD relation is the integer-box abstraction,
the BDD fixpoint is the maximal controlled invariant (checked against an independent explicit
fixpoint), every abstract state of it stays in it under every allowed input, the continuous
closed loop never leaves the safe set from any initial state inside it, and the policy is the
limited-optimal one (checked against a brute-force dynamic programme)."""

from __future__ import annotations

import itertools
from dataclasses import replace

import numpy as np
import pytest

from skycell.errors import SkycellError
from skycell.flight.synthesis import (
    AxisSpec,
    TargetLaw,
    TrackingLaw,
    evaluate_bdd,
    extract_tables,
    optimise,
    synthesize_axis,
    synthesize_symbolic,
)

# translational-like axis with rate-limited levels (memory), and an attitude-like one without
MEM = AxisSpec(
    name="x", unit="m", period_s=0.1, velocity_quantum=0.05, position_ratio=1, input_ratio=1,
    position_limit=0.3, velocity_limit=0.6, input_levels=3, slew_levels=1, disturbance=0.2,
    horizon_steps=10,
)  # fmt: skip
FREE = AxisSpec(
    name="pitch", unit="rad", period_s=0.01, velocity_quantum=0.02, position_ratio=5,
    input_ratio=1, position_limit=0.05, velocity_limit=0.3, input_levels=3, disturbance=0.5,
    horizon_steps=12,
)  # fmt: skip


@pytest.fixture(scope="module", params=[MEM, FREE], ids=["memory", "no-memory"])
def synthesized(request: pytest.FixtureRequest) -> tuple[AxisSpec, object, object]:
    spec = request.param
    sym = synthesize_symbolic(spec)
    axis = synthesize_axis(spec)
    return spec, sym, axis


def _grid(spec: AxisSpec) -> tuple[np.ndarray, ...]:
    axes = [np.arange(-spec.n_pos, spec.n_pos + 1), np.arange(-spec.n_vel, spec.n_vel + 1)]
    if spec.memory:
        axes.append(spec.levels)
    return tuple(np.meshgrid(*axes, indexing="ij"))


def _choice_levels(spec: AxisSpec, kp: np.ndarray | None) -> list[np.ndarray]:
    if spec.memory:
        assert kp is not None and spec.slew_levels is not None
        return [kp + d for d in range(-spec.slew_levels, spec.slew_levels + 1)]
    return [np.full(1, k) for k in spec.levels]


def _all_successors_in(spec: AxisSpec, z: np.ndarray) -> np.ndarray:
    """Independent check with a summed-area table: for every state and choice, whether the
    whole successor box lies inside ``z`` (outside the table counts as outside ``z``)."""
    grids = _grid(spec)
    i, j = grids[0], grids[1]
    kp = grids[2] if spec.memory else None
    out = np.zeros((*spec.grid_shape, spec.choices), dtype=bool)
    nx, nv = 2 * spec.n_pos + 1, 2 * spec.n_vel + 1
    for c, k in enumerate(_choice_levels(spec, kp)):
        k = np.broadcast_to(k, i.shape)
        lo = np.minimum(k, kp) if spec.memory else k
        hi = np.maximum(k, kp) if spec.memory else k
        di_lo, di_hi, dj_lo, dj_hi = spec.successor_bounds(j, lo, hi)
        valid = np.abs(k) <= spec.input_levels
        kk = np.clip(k, -spec.input_levels, spec.input_levels) + spec.input_levels
        # layer of z at the next memory (= k) or the whole table
        ok = np.zeros(i.shape, dtype=bool)
        for level in np.unique(kk):
            layer = z[:, :, level] if spec.memory else z
            sat = np.zeros((nx + 1, nv + 1))
            sat[1:, 1:] = layer.astype(float).cumsum(0).cumsum(1)
            sel = kk == level
            a0 = i[sel] + di_lo[sel] + spec.n_pos
            a1 = i[sel] + di_hi[sel] + spec.n_pos
            b0 = j[sel] + dj_lo[sel] + spec.n_vel
            b1 = j[sel] + dj_hi[sel] + spec.n_vel
            inside = (a0 >= 0) & (a1 < nx) & (b0 >= 0) & (b1 < nv)
            a0c, a1c = np.clip(a0, 0, nx - 1), np.clip(a1, 0, nx - 1)
            b0c, b1c = np.clip(b0, 0, nv - 1), np.clip(b1, 0, nv - 1)
            count = sat[a1c + 1, b1c + 1] - sat[a0c, b1c + 1] - sat[a1c + 1, b0c] + sat[a0c, b0c]
            area = (a1c - a0c + 1) * (b1c - b0c + 1)
            ok[sel] = inside & (count == area)
        out[..., c] = ok & valid
    return out


def test_bdd_relation_is_the_integer_box_abstraction(synthesized) -> None:  # type: ignore[no-untyped-def]
    """At sampled states and every input, the BDD relation holds exactly on the numpy successor
    box and fails on the ring of cells around it."""
    spec, sym, _ = synthesized
    rng = np.random.default_rng(0)
    grids = _grid(spec)
    flat = [g.ravel() for g in grids]
    pick = rng.choice(flat[0].size, size=60, replace=False)
    for s in pick:
        i, j = int(flat[0][s]), int(flat[1][s])
        kp = int(flat[2][s]) if spec.memory else None
        for k in _choice_levels(spec, np.array(kp) if kp is not None else None):
            k = int(np.asarray(k).reshape(-1)[0])
            if abs(k) > spec.input_levels:
                continue
            lo, hi = (min(k, kp), max(k, kp)) if kp is not None else (k, k)
            di_lo, di_hi, dj_lo, dj_hi = (
                int(x) for x in spec.successor_bounds(np.array(j), np.array(lo), np.array(hi))
            )
            ii, jj = np.meshgrid(
                np.arange(i + di_lo - 1, i + di_hi + 2),
                np.arange(j + dj_lo - 1, j + dj_hi + 2),
                indexing="ij",
            )
            values = {
                "i": np.full(ii.shape, i),
                "j": np.full(ii.shape, j),
                "k": np.full(ii.shape, k),
                "ip": ii,
                "jp": jj,
            }
            if kp is not None:
                values["kp"] = np.full(ii.shape, kp)
            got = evaluate_bdd(sym.ctx, sym.transition, values)
            want = (ii >= i + di_lo) & (ii <= i + di_hi) & (jj >= j + dj_lo) & (jj <= j + dj_hi)
            np.testing.assert_array_equal(got, want)


def test_evaluator_agrees_with_omega_counting() -> None:
    import omega.symbolic.fol as fol

    ctx = fol.Context()
    ctx.declare(a=(-7, 7), b=(-3, 12))
    u = ctx.add_expr(r"(3 * a - b >= 2 \/ a + b = 4) /\ a - 2 * b <= 5")
    a, b = np.meshgrid(np.arange(-7, 8), np.arange(-3, 13), indexing="ij")
    got = evaluate_bdd(ctx, u, {"a": a, "b": b})
    want = ((3 * a - b >= 2) | (a + b == 4)) & (a - 2 * b <= 5)
    np.testing.assert_array_equal(got, want)


def test_invariant_is_the_maximal_fixpoint(synthesized) -> None:  # type: ignore[no-untyped-def]
    """An explicit fixpoint (summed-area tables, no BDD) gives the same set, and it is not
    empty."""
    spec, _sym, axis = synthesized
    z = np.ones(spec.grid_shape, dtype=bool)
    for _ in range(500):
        keep = _all_successors_in(spec, z).any(axis=-1)
        z_next = z & keep
        if np.array_equal(z_next, z):
            break
        z = z_next
    np.testing.assert_array_equal(axis.invariant, z)
    assert 0 < axis.invariant.sum() < axis.invariant.size
    assert axis.stats.invariant_states == int(z.sum())


def test_every_abstract_state_of_the_invariant_stays_in_it(synthesized) -> None:  # type: ignore[no-untyped-def]
    """Safety over every abstract state: every allowed input of every state of Z keeps every
    successor in Z; every state of Z has an allowed input; states outside Z have none; and the
    policy's input is allowed. Symbolically too: Z /\\ C /\\ T /\\ ~Z' is empty."""
    spec, sym, axis = synthesized
    closed = _all_successors_in(spec, axis.invariant)
    assert np.all(closed[axis.safe_inputs])
    np.testing.assert_array_equal(axis.safe_inputs, closed & axis.invariant[..., None])
    assert np.all(axis.safe_inputs.any(axis=-1) == axis.invariant)
    grids = _grid(spec)
    chosen = axis.policy[axis.invariant].astype(int)
    levels = np.stack(
        [
            np.broadcast_to(k, grids[0].shape)
            for k in _choice_levels(spec, grids[2] if spec.memory else None)
        ],
        axis=-1,
    )[axis.invariant]
    allowed = axis.safe_inputs[axis.invariant]
    assert np.all(np.any((levels == chosen[:, None]) & allowed, axis=1))
    escapes = sym.invariant & sym.controller & sym.transition & ~sym.renamed(sym.invariant)
    assert escapes == sym.ctx.false


def _continuous_closed_loop(
    spec: AxisSpec, axis, *, periods: int, seed: int, cost=None, sub: int = 10
) -> None:  # type: ignore[no-untyped-def]
    """From a random point of every cell of Z, with the disturbance and (with memory) the
    attitude lag chosen at random within the abstraction's bounds at every sub-step, the exact
    sampled dynamics under the lookup never leave the safe box."""
    rng = np.random.default_rng(seed)
    grids = _grid(spec)
    z = axis.invariant
    i0, j0 = grids[0][z], grids[1][z]
    n = i0.size
    x = (i0 + rng.uniform(-0.5, 0.5, n)) * spec.position_quantum
    v = (j0 + rng.uniform(-0.5, 0.5, n)) * spec.velocity_quantum
    if spec.memory:
        law = TrackingLaw(axis)
        law.reset(n)
        law._level = grids[2][z].astype(np.int64).copy()  # start at the state's level
    else:
        law = TargetLaw(axis, cost if cost is not None else axis)
        law.reset(n)
    h = spec.period_s / sub
    x_lim = spec.position_limit
    v_lim = spec.velocity_limit
    for _ in range(periods):
        kp = law.level.copy() if spec.memory else None
        a_cmd = law(x, v) if spec.memory else law(x, v, np.zeros(n))
        k = np.rint(a_cmd / spec.accel_quantum)
        start = kp if kp is not None else k
        ramp = np.sort(rng.uniform(0.0, 1.0, (n, sub)), axis=1)  # any monotone transition
        for s in range(sub):
            a = (start + (k - start) * ramp[:, s]) * spec.accel_quantum
            a = a + rng.uniform(-spec.disturbance, spec.disturbance, n)
            x = x + v * h + 0.5 * a * h * h
            v = v + a * h
            assert np.all(np.abs(x) <= x_lim + 1e-12), "left the position limit"
            assert np.all(np.abs(v) <= v_lim + 1e-12), "left the velocity limit"
    assert law.monitor.violations.sum() == 0
    assert law.monitor.exits.sum() == 0


def test_no_simulated_state_leaves_the_safe_set(synthesized) -> None:  # type: ignore[no-untyped-def]
    spec, _, axis = synthesized
    _continuous_closed_loop(spec, axis, periods=80, seed=1)


def _brute_force(spec: AxisSpec, inv: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Naive dynamic programme with explicit successor sets (Python loops)."""
    shape = spec.grid_shape
    states = list(itertools.product(*(range(s) for s in shape)))

    def succ(state: tuple[int, ...], c: int) -> tuple[list[tuple[int, ...]], int]:
        i = state[0] - spec.n_pos
        j = state[1] - spec.n_vel
        if spec.memory:
            kp = state[2] - spec.input_levels
            assert spec.slew_levels is not None
            k = kp + c - spec.slew_levels
            lo, hi = min(k, kp), max(k, kp)
        else:
            kp, k = 0, c - spec.input_levels
            lo = hi = k
        di_lo, di_hi, dj_lo, dj_hi = (
            int(x) for x in spec.cost_spec.successor_bounds(np.array(j), np.array(lo), np.array(hi))
        )
        out = []
        for di in range(di_lo, di_hi + 1):
            for dj in range(dj_lo, dj_hi + 1):
                s = (i + di + spec.n_pos, j + dj + spec.n_vel)
                out.append((*s, k + spec.input_levels) if spec.memory else s)
        return out, k

    def stage(state: tuple[int, ...]) -> float:
        return abs(state[0] - spec.n_pos) + spec.velocity_weight * abs(state[1] - spec.n_vel)

    cost = {s: (stage(s) if inv[s] else np.inf) for s in states}
    q = np.full((*shape, spec.choices), np.inf)
    for _ in range(spec.horizon_steps):
        q = np.full((*shape, spec.choices), np.inf)
        for s in states:
            if not inv[s]:
                continue
            for c in range(spec.choices):
                if not allowed[(*s, c)]:
                    continue
                nxt, k = succ(s, c)
                vals = [cost[t] for t in nxt]
                agg = max(vals) if spec.cost == "worst" else float(np.mean(vals))
                kp = s[2] - spec.input_levels if spec.memory else 0
                q[(*s, c)] = agg + spec.input_weight * abs(k) + spec.slew_weight * abs(k - kp)
        cost = {s: (stage(s) + q[s].min() if inv[s] else np.inf) for s in states}
    return q


@pytest.mark.parametrize("nominal", [False, True], ids=["robust-cost", "nominal-cost"])
@pytest.mark.parametrize("mode", ["mean", "worst"])
@pytest.mark.parametrize("memory", [True, False])
def test_policy_is_limited_optimal(mode: str, memory: bool, nominal: bool) -> None:
    """The vectorised programme equals a brute-force one, with the cost on the safety
    abstraction or on the nominal one (``cost_disturbance=0``, smaller successor boxes)."""
    if memory:  # a small rate-limited axis that still has an invariant
        spec = replace(
            MEM, position_ratio=3, position_limit=0.3, velocity_limit=0.6, input_levels=2,
            disturbance=0.1, horizon_steps=4, cost=mode, slew_weight=1.5, input_weight=0.25,
        )  # fmt: skip
    else:
        spec = replace(
            FREE, position_limit=FREE.position_quantum * 6.6,
            velocity_limit=FREE.velocity_quantum * 4.6, horizon_steps=5, cost=mode,
            input_weight=0.25, velocity_weight=0.5,
        )  # fmt: skip
    if nominal:
        spec = replace(spec, disturbance=max(spec.disturbance, 0.2), cost_disturbance=0.0)
        assert spec.cost_spec.bound_pos + spec.cost_spec.bound_vel < (
            spec.bound_pos + spec.bound_vel
        )
    inv, allowed = extract_tables(synthesize_symbolic(spec))
    assert inv.any()
    q, policy = optimise(spec, inv, allowed)
    want = _brute_force(spec, inv, allowed)
    np.testing.assert_allclose(np.where(allowed, q, 0.0), np.where(allowed, want, 0.0), rtol=1e-6)
    # the chosen level minimises the cost among the allowed inputs
    grids = _grid(spec)
    levels = np.stack(
        [
            np.broadcast_to(k, grids[0].shape)
            for k in _choice_levels(spec, grids[2] if spec.memory else None)
        ],
        axis=-1,
    )
    best = np.where(allowed, want, np.inf).min(axis=-1)
    chosen_q = np.where(
        levels == policy[..., None].astype(int), np.where(allowed, want, np.inf), np.inf
    ).min(axis=-1)
    np.testing.assert_allclose(chosen_q[inv], best[inv], rtol=1e-6)


def test_synthesis_is_deterministic() -> None:
    a = synthesize_axis(MEM)
    b = synthesize_axis(MEM)
    np.testing.assert_array_equal(a.invariant, b.invariant)
    np.testing.assert_array_equal(a.safe_inputs, b.safe_inputs)
    np.testing.assert_array_equal(a.policy, b.policy)
    np.testing.assert_array_equal(a.q_cost, b.q_cost)


def test_bad_specs_are_refused_with_the_fix() -> None:
    with pytest.raises(SkycellError, match="period_s must be a finite number > 0"):
        replace(MEM, period_s=0.0)
    with pytest.raises(SkycellError, match="smaller than the cells"):
        replace(MEM, position_limit=0.001)
    with pytest.raises(SkycellError, match="cost must be one of"):
        replace(MEM, cost="median")
    with pytest.raises(SkycellError, match="cost_disturbance must lie in"):
        replace(MEM, cost_disturbance=MEM.disturbance * 2)
    with pytest.raises(SkycellError, match="without a policy"):
        TrackingLaw(synthesize_axis(FREE, optimise_cost=False))


def test_a_too_large_disturbance_leaves_no_invariant() -> None:
    """With a disturbance above the control authority nothing can be kept safe (the fixpoint
    is empty): the abstraction does not claim what it cannot guarantee."""
    spec = replace(FREE, disturbance=FREE.input_levels * FREE.accel_quantum * 1.5)
    axis = synthesize_axis(spec)
    assert axis.stats.invariant_states == 0
    assert axis.policy is None


@pytest.mark.parametrize("name", ["x", "z", "pitch", "yaw"])
def test_flight_controller_is_safe_from_every_abstract_state(route_tables, name: str) -> None:  # type: ignore[no-untyped-def]
    """The tables ``skycell fly`` uses: every state of each axis' invariant stays in it under
    every allowed input, and the continuous closed loop from every one of them never leaves the
    safe box (the tube, the velocity and attitude limits)."""
    axis = route_tables.axes[name]
    spec = axis.spec
    closed = _all_successors_in(spec, axis.invariant)
    assert np.all(closed[axis.safe_inputs])
    assert np.all(axis.safe_inputs.any(axis=-1) == axis.invariant)
    assert axis.invariant.sum() > 0.3 * axis.invariant.size
    cost = route_tables.axes.get(f"{name}_cost")
    _continuous_closed_loop(spec, axis, periods=25, seed=2, cost=cost, sub=4)


@pytest.mark.parametrize("which", ["step", "near-field"])
def test_step_z_with_nominal_cost_is_safe_from_every_abstract_state(which: str) -> None:
    """The Table 5 z axes optimise the cost on the nominal plant (``cost_disturbance=0``) but
    keep the safety of the disturbed one: every state of the invariant stays in it under every
    allowed input, the policy's input is allowed, and the continuous closed loop with the full
    disturbance drawn at random never leaves the safe box."""
    from skycell.flight.cascade import near_field_specs, step_specs
    from skycell.flight.dynamics import BASE_STATION_QUAD

    p = BASE_STATION_QUAD
    if which == "step":
        spec = step_specs(p, horizontal_step_m=5.0, vertical_step_m=3.0, speed_limit_m_s=6.0).z
    else:
        spec = near_field_specs(p).z
    assert spec.disturbance > 0
    axis = synthesize_axis(spec)
    closed = _all_successors_in(spec, axis.invariant)
    assert np.all(closed[axis.safe_inputs])
    assert np.all(axis.safe_inputs.any(axis=-1) == axis.invariant)
    assert axis.policy is not None
    level = axis.policy[axis.invariant].astype(int) + spec.input_levels
    assert np.all(np.take_along_axis(axis.safe_inputs[axis.invariant], level[:, None], 1))
    _continuous_closed_loop(spec, axis, periods=25, seed=3, sub=4)
