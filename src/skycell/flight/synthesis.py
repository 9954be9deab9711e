"""Symbolic discrete controller synthesis per axis (paper 002 §3.3): a finite abstraction, the
maximal safe controlled-invariant set computed with binary decision diagrams, and the
limited-optimal controller, precomputed as a lookup table the simulator calls every step.

The paper models each axis of Table 1 with discrete positions ``L``, velocities ``S`` and input
levels ``U`` (its dataflow equations), makes the safety objective ``f_S`` (velocity, position
and thrust limits) an invariant that must always hold, and minimises the cost ``f_O``, the
cumulative distance to the desired points, with ReaX. skycell does the same with the maintained
``dd`` BDD package (CUDD) through ``omega``'s integer layer:

**Abstraction.** Each axis is a double integrator ``x'' = a + d`` (Table 1: ``x'' = g theta``,
``phi'' = u2 / Ix``, ...; ``d`` a bounded disturbance, ``|d| <= d_max``) sampled every ``tau``
with the input held. Velocities are cut into cells of ``v_q``, positions into cells of
``x_q = p v_q tau``, inputs into levels ``a = k a_q`` with ``a_q = m v_q / tau`` (``p``, ``m``
integers). With this lattice the nominal successor of a cell centre is a cell centre shifted by
integers, so the transition relation is a conjunction of *integer linear* inequalities::

    | 2p (i' - i) - 2 j - m k | <= B_x,   | j' - j - m k | <= B_v

with ``B_x = 2p + 1 + floor(p d tau / v_q)`` and ``B_v = 1 + floor(d tau / v_q)``: every
continuous state of cell ``(i, j)`` under level ``k`` and any disturbance lands in a cell that
satisfies them (the image of a cell is covered conservatively by closed intervals), so the
abstraction over-approximates the sampled dynamics and safety carries over to them.

**Rate limits.** Translational axes also carry the level applied in the previous step
(``kp``) and allow ``|k - kp| <= s`` per step: the tilt (hence the acceleration) cannot jump.
While the attitude loop moves from the old to the new tilt the acceleration lies anywhere
between ``kp a_q`` and ``k a_q``, so the bounds above are taken over ``min(k, kp)..max(k, kp)``;
this is how the abstraction stays sound although the acceleration is realised with a lag.

**Safety.** The safe set is the box ``|x| <= X``, ``|x'| <= V`` (a cell is safe when it lies
inside it), inputs are bounded by the thrust or torque limits. The maximal controlled invariant
``Z`` is the greatest fixpoint ``Z = Safe /\\ Pre(Z)``, ``Pre(Z) = {s : E k. A s'. T(s, k, s') =>
s' in Z}``, computed on BDDs (``omega.symbolic.fol`` over ``dd.cudd``). The safe controller
``C(s, k) = Z(s) /\\ A s'. T => Z(s')`` allows exactly the inputs that keep every successor in
``Z``; from any state of ``Z`` every allowed input keeps the system in ``Z`` forever.

**Limited optimality.** Among the allowed inputs the controller picks the one that minimises
the worst-case cumulative distance to the desired point over a bounded horizon of ``H`` steps
(``f_O`` of §3.3), by dynamic programming on the explicit table (vectorised numpy; the
successor sets are the same integer boxes as the BDD relation, which a test checks). Ties go to
the smallest change of level, then the smallest level.

Everything is precomputed: at run time a controller is a table lookup (:class:`TrackingLaw`,
:class:`TargetLaw`). The simulator additionally checks every realised transition against the
abstraction (:attr:`TrackingLaw.violations`): the guarantee holds for a real flight exactly when
that count stays zero.
"""

from __future__ import annotations

import heapq
import math
import time
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.flight._util import clip

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]
BoolArray = NDArray[np.bool_]

#: How the cost-to-go aggregates an input's successors.
COST_MODES: tuple[str, ...] = ("mean", "worst")


@dataclass(frozen=True)
class AxisSpec:
    """One axis of the abstraction (units: ``unit`` for positions, ``unit/s``, ``unit/s^2``).

    Attributes:
        name: e.g. ``x``, ``pitch``.
        unit: ``m`` or ``rad``.
        period_s: sampling period ``tau`` [s]; the level is held over it.
        velocity_quantum: ``v_q``, the velocity cell [unit/s].
        position_ratio: ``p``; the position cell is ``x_q = p v_q tau``.
        input_ratio: ``m``; the input level is ``a_q = m v_q / tau``.
        position_limit: ``X``: the invariant keeps ``|x| <= X`` [unit].
        velocity_limit: ``V``: the invariant keeps ``|x'| <= V`` [unit/s].
        input_levels: ``K``: levels ``-K..K``, i.e. ``|a| <= K a_q`` (thrust / torque limits).
        slew_levels: ``s``: at most this change of level per step (rate limit), with the
            previous level part of the state; ``None``: levels may jump (no memory).
        disturbance: ``d_max`` [unit/s^2].
        horizon_steps: ``H`` of the limited-optimal cost.
        cost: how the cost-to-go of an input aggregates its successors: ``mean`` (each
            successor of the abstraction equally likely) or ``worst`` (min-max).
        velocity_weight: cost of a velocity cell relative to a position cell (0: the paper's
            pure distance to the desired point).
        input_weight: cost of a level per step, in position cells.
        slew_weight: cost of a level change per step, in position cells (with memory).
        cost_disturbance: the disturbance bound the cost-to-go assumes, at most
            ``disturbance`` (``None``: ``disturbance``). Safety (the invariant and the allowed
            inputs) always assumes ``disturbance``; a smaller value here optimises the distance
            for the nominal plant among the inputs that are safe for the disturbed one.
    """

    name: str
    unit: str
    period_s: float
    velocity_quantum: float
    position_ratio: int
    input_ratio: int
    position_limit: float
    velocity_limit: float
    input_levels: int
    slew_levels: int | None = None
    disturbance: float = 0.0
    horizon_steps: int = 30
    cost: str = "mean"
    velocity_weight: float = 0.0
    input_weight: float = 0.0
    slew_weight: float = 0.0
    cost_disturbance: float | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.cost not in COST_MODES:
            problems.append(f"cost must be one of {', '.join(COST_MODES)}, got {self.cost!r}")
        for key in ("period_s", "velocity_quantum", "position_limit", "velocity_limit"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                problems.append(f"{key} must be a finite number > 0, got {value!r}")
        for key in ("position_ratio", "input_ratio", "input_levels", "horizon_steps"):
            value = getattr(self, key)
            if not (isinstance(value, int) and value >= 1):
                problems.append(f"{key} must be an integer >= 1, got {value!r}")
        if self.slew_levels is not None and not (
            isinstance(self.slew_levels, int) and self.slew_levels >= 1
        ):
            problems.append(f"slew_levels must be an integer >= 1 or None, got {self.slew_levels}")
        for key in ("velocity_weight", "input_weight", "slew_weight"):
            value = getattr(self, key)
            if not (isinstance(value, int | float) and math.isfinite(value) and value >= 0):
                problems.append(f"{key} must be a finite number >= 0, got {value!r}")
        if not (math.isfinite(self.disturbance) and self.disturbance >= 0):
            problems.append(f"disturbance must be >= 0, got {self.disturbance}")
        cd = self.cost_disturbance
        if cd is not None and not (
            isinstance(cd, int | float) and math.isfinite(cd) and 0 <= cd <= self.disturbance
        ):
            problems.append(f"cost_disturbance must lie in [0, disturbance], got {cd!r}")
        if not problems and (self.n_pos < 1 or self.n_vel < 1):
            problems.append(
                f"the limits are smaller than the cells (position cell {self.position_quantum:g} "
                f"{self.unit}, velocity cell {self.velocity_quantum:g} {self.unit}/s); refine the "
                "quanta or widen the limits"
            )
        if problems:
            raise SkycellError(f"axis {self.name!r}: " + "; ".join(problems))

    @cached_property
    def position_quantum(self) -> float:
        """``x_q = p v_q tau`` [unit]."""
        return self.position_ratio * self.velocity_quantum * self.period_s

    @cached_property
    def accel_quantum(self) -> float:
        """``a_q = m v_q / tau`` [unit/s^2]."""
        return self.input_ratio * self.velocity_quantum / self.period_s

    @cached_property
    def n_pos(self) -> int:
        """Safe position cells are ``-n_pos..n_pos``."""
        return math.floor(self.position_limit / self.position_quantum - 0.5 + 1e-9)

    @cached_property
    def n_vel(self) -> int:
        """Safe velocity cells are ``-n_vel..n_vel``."""
        return math.floor(self.velocity_limit / self.velocity_quantum - 0.5 + 1e-9)

    @cached_property
    def memory(self) -> bool:
        """Whether the previous level is part of the state (rate-limited inputs)."""
        return self.slew_levels is not None

    @cached_property
    def bound_pos(self) -> int:
        """``B_x`` (units of ``x_q / 2p``)."""
        growth = self.position_ratio * self.disturbance * self.period_s / self.velocity_quantum
        return 2 * self.position_ratio + 1 + math.floor(growth + 1e-9)

    @cached_property
    def bound_vel(self) -> int:
        """``B_v`` (velocity cells)."""
        growth = self.disturbance * self.period_s / self.velocity_quantum
        return 1 + math.floor(growth + 1e-9)

    @cached_property
    def cost_spec(self) -> AxisSpec:
        """The abstraction the cost-to-go is computed on: this one with the disturbance
        ``cost_disturbance`` (itself when that is ``None``). Its successor boxes lie inside
        this one's, so every successor it considers from a state of ``Z`` under an allowed input
        is in ``Z``."""
        if self.cost_disturbance is None:
            return self
        return replace(self, disturbance=self.cost_disturbance, cost_disturbance=None)

    @cached_property
    def levels(self) -> IntArray:
        """The input levels ``-K..K``."""
        return np.arange(-self.input_levels, self.input_levels + 1, dtype=np.int64)

    @cached_property
    def choices(self) -> int:
        """Inputs per state in the tables: ``2 s + 1`` level changes with memory, else
        ``2 K + 1`` levels."""
        s = self.slew_levels
        return 2 * s + 1 if s is not None else 2 * self.input_levels + 1

    @cached_property
    def grid_shape(self) -> tuple[int, ...]:
        """Shape of the state tables: ``(2 n_pos + 1, 2 n_vel + 1[, 2 K + 1])``."""
        shape = (2 * self.n_pos + 1, 2 * self.n_vel + 1)
        return (*shape, 2 * self.input_levels + 1) if self.memory else shape

    @cached_property
    def state_count(self) -> int:
        """Number of abstract states in the safe box."""
        return int(np.prod(self.grid_shape))

    def successor_bounds(
        self, j: IntArray, k_lo: IntArray, k_hi: IntArray
    ) -> tuple[IntArray, IntArray, IntArray, IntArray]:
        """Offsets of the successor box ``i' - i in [di_lo, di_hi]``, ``j' - j in [dj_lo,
        dj_hi]`` of a cell with velocity index ``j`` when the acceleration lies in ``[k_lo a_q,
        k_hi a_q]`` during the step (the same integer inequalities as the BDD relation)."""
        pp = 2 * self.position_ratio
        m = self.input_ratio
        lo = 2 * np.asarray(j) + m * np.asarray(k_lo) - self.bound_pos
        hi = 2 * np.asarray(j) + m * np.asarray(k_hi) + self.bound_pos
        di_lo = -((-lo) // pp)
        di_hi = hi // pp
        dj_lo = m * np.asarray(k_lo) - self.bound_vel
        dj_hi = m * np.asarray(k_hi) + self.bound_vel
        return di_lo, di_hi, dj_lo, dj_hi


@dataclass(frozen=True)
class SynthesisStats:
    """Facts about one synthesis run.

    Attributes:
        iterations: fixpoint iterations until ``Z`` stopped shrinking.
        safe_states: states of the safe box.
        invariant_states: states of ``Z``.
        transition_nodes, invariant_nodes, controller_nodes: BDD sizes.
        bdd_seconds: time to build the relation and run the fixpoint [s].
        extract_seconds, optimise_seconds: table extraction and dynamic programme [s].
    """

    iterations: int
    safe_states: int
    invariant_states: int
    transition_nodes: int
    invariant_nodes: int
    controller_nodes: int
    bdd_seconds: float
    extract_seconds: float
    optimise_seconds: float

    @property
    def invariant_fraction(self) -> float:
        """Share of the safe box that is controlled invariant."""
        return self.invariant_states / self.safe_states if self.safe_states else 0.0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready record."""
        return {
            "iterations": self.iterations,
            "safe_states": self.safe_states,
            "invariant_states": self.invariant_states,
            "invariant_fraction": self.invariant_fraction,
            "transition_bdd_nodes": self.transition_nodes,
            "invariant_bdd_nodes": self.invariant_nodes,
            "controller_bdd_nodes": self.controller_nodes,
            "bdd_seconds": self.bdd_seconds,
            "extract_seconds": self.extract_seconds,
            "optimise_seconds": self.optimise_seconds,
        }


@dataclass(frozen=True, eq=False)
class SynthesizedAxis:
    """The synthesised controller of one axis, as tables over the safe box.

    Attributes:
        spec: the axis.
        invariant: ``grid_shape`` booleans, the maximal controlled invariant ``Z``.
        safe_inputs: ``grid_shape + (choices,)`` booleans, the controller ``C``: with memory
            the last axis is the level change ``-s..s``, else the level ``-K..K``.
        q_cost: same shape, cost-to-go over the horizon [position cells], infinite where the
            input is not allowed; ``None`` if not optimised.
        policy: ``grid_shape`` chosen level (``-128`` outside ``Z``); ``None`` if not
            optimised.
        stats: synthesis facts.
    """

    spec: AxisSpec
    invariant: BoolArray
    safe_inputs: BoolArray
    q_cost: NDArray[np.float32] | None
    policy: NDArray[np.int8] | None
    stats: SynthesisStats

    def index(self, position: FloatArray, velocity: FloatArray) -> tuple[IntArray, IntArray]:
        """Cell indices ``(i, j)`` of continuous positions and velocities (not clipped)."""
        s = self.spec
        i = np.rint(np.asarray(position) / s.position_quantum).astype(np.int64)
        j = np.rint(np.asarray(velocity) / s.velocity_quantum).astype(np.int64)
        return i, j

    def in_box(self, i: IntArray, j: IntArray) -> BoolArray:
        """Whether cells lie in the safe box."""
        s = self.spec
        return np.asarray((np.abs(i) <= s.n_pos) & (np.abs(j) <= s.n_vel))


# ---------------------------------------------------------------------------- symbolic part


def _context(spec: AxisSpec) -> Any:
    """An ``omega`` context with the axis' integer variables: the levels, each position and
    velocity with its successor copy (same domain, so renaming is exact), wide enough for every
    successor of the safe box. The bits of each variable and its copy are interleaved, most
    significant first (the order that keeps the arithmetic relation small), and CUDD's dynamic
    reordering stays on."""
    import omega.symbolic.fol as fol
    from dd import cudd

    k = spec.input_levels
    m = spec.input_ratio
    jump_i = (2 * spec.n_vel + m * k + spec.bound_pos) // (2 * spec.position_ratio) + 2
    jump_j = m * k + spec.bound_vel + 1
    ni = spec.n_pos + jump_i
    nj = spec.n_vel + jump_j
    ctx = fol.Context()
    groups: list[tuple[str, ...]] = [("kp", "k")] if spec.memory else [("k",)]
    if spec.memory:
        ctx.declare(kp=(-k, k))
    ctx.declare(k=(-k, k))
    ctx.declare(i=(-ni, ni), ip=(-ni, ni), j=(-nj, nj), jp=(-nj, nj))
    groups += [("i", "ip"), ("j", "jp")]
    order: list[str] = []
    for group in groups:
        width = max(ctx.vars[v]["width"] for v in group)
        for b in range(width - 1, -1, -1):
            order += [ctx.vars[v]["bitnames"][b] for v in group if b < ctx.vars[v]["width"]]
    if isinstance(ctx.bdd, cudd.BDD):
        cudd.reorder(ctx.bdd, {name: level for level, name in enumerate(order)})
    return ctx


def _relation_expr(spec: AxisSpec) -> str:
    """The transition relation as an ``omega`` formula over ``i, j, [kp], k, ip, jp``."""
    pp = 2 * spec.position_ratio
    m = spec.input_ratio
    bx, bv = spec.bound_pos, spec.bound_vel

    def tx(level: str) -> str:
        return f"({pp} * ip - {pp} * i - 2 * j - {m} * {level})"

    def tv(level: str) -> str:
        return f"(jp - j - {m} * {level})"

    if not spec.memory:
        return (
            rf"{tx('k')} >= -{bx} /\ {tx('k')} <= {bx} /\ "
            rf"{tv('k')} >= -{bv} /\ {tv('k')} <= {bv}"
        )
    return (
        rf"({tx('k')} >= -{bx} \/ {tx('kp')} >= -{bx}) /\ "
        rf"({tx('k')} <= {bx} \/ {tx('kp')} <= {bx}) /\ "
        rf"({tv('k')} >= -{bv} \/ {tv('kp')} >= -{bv}) /\ "
        rf"({tv('k')} <= {bv} \/ {tv('kp')} <= {bv})"
    )


def _safe_expr(spec: AxisSpec) -> str:
    expr = rf"i >= -{spec.n_pos} /\ i <= {spec.n_pos} /\ j >= -{spec.n_vel} /\ j <= {spec.n_vel}"
    if spec.memory:
        expr += rf" /\ kp >= -{spec.input_levels} /\ kp <= {spec.input_levels}"
    return expr


def _input_expr(spec: AxisSpec) -> str:
    k = spec.input_levels
    expr = rf"k >= -{k} /\ k <= {k}"
    if spec.memory:
        s = spec.slew_levels
        expr += rf" /\ k - kp <= {s} /\ kp - k <= {s}"
    return expr


@dataclass
class SymbolicAxis:
    """The BDDs of one axis: relation ``T``, safe box, admissible inputs, the maximal invariant
    ``Z`` and the controller ``C`` (``omega`` context ``ctx``)."""

    spec: AxisSpec
    ctx: Any
    transition: Any
    safe: Any
    inputs: Any
    invariant: Any
    controller: Any
    iterations: int
    seconds: float

    def renamed(self, u: Any) -> Any:
        """``u(i, j[, kp])`` as a function of the successor ``(ip, jp[, k])``."""
        names = {"i": "ip", "j": "jp"}
        if self.spec.memory:
            names["kp"] = "k"
        return self.ctx.replace(u, names)

    def evaluate(self, u: Any, values: dict[str, IntArray]) -> BoolArray:
        """``u`` at integer points given per variable (arrays of one shape)."""
        return evaluate_bdd(self.ctx, u, values)


def synthesize_symbolic(spec: AxisSpec) -> SymbolicAxis:
    """Build the abstraction of ``spec`` on BDDs and compute the maximal safe controlled
    invariant ``Z`` (greatest fixpoint) and the safe controller ``C``."""
    tic = time.perf_counter()
    ctx = _context(spec)
    trans = ctx.add_expr(_relation_expr(spec))
    safe = ctx.add_expr(_safe_expr(spec))
    inputs = ctx.add_expr(_input_expr(spec))
    names = {"i": "ip", "j": "jp"}
    if spec.memory:
        names["kp"] = "k"
    z = safe
    iterations = 0
    while True:
        iterations += 1
        z_next = ctx.replace(z, names)
        escapes = ctx.exist(["ip", "jp"], trans & ~z_next)  # some successor leaves Z
        pre = ctx.exist(["k"], inputs & ~escapes)
        shrunk = z & pre
        if shrunk == z:
            break
        z = shrunk
    z_next = ctx.replace(z, names)
    controller = z & inputs & ~ctx.exist(["ip", "jp"], trans & ~z_next)
    return SymbolicAxis(
        spec=spec,
        ctx=ctx,
        transition=trans,
        safe=safe,
        inputs=inputs,
        invariant=z,
        controller=controller,
        iterations=iterations,
        seconds=time.perf_counter() - tic,
    )


def evaluate_bdd(ctx: Any, u: Any, values: dict[str, IntArray]) -> BoolArray:
    """Evaluate the BDD ``u`` of an ``omega`` context at many integer points at once.

    Integers are encoded as ``omega`` does (two's complement, bit 0 least significant); the
    points travel down the diagram together, split at every node by the node's bit, following
    CUDD's complemented edges. Every variable of ``u``'s support must be given.
    """
    bdd = ctx.bdd
    arrays = {k: np.asarray(v, dtype=np.int64) for k, v in values.items()}
    shape = next(iter(arrays.values())).shape
    n = int(np.prod(shape))
    bits: dict[str, BoolArray] = {}
    for name, arr in arrays.items():
        info = ctx.vars[name]
        enc = arr.reshape(-1) & ((1 << info["width"]) - 1)
        for b, bitname in enumerate(info["bitnames"]):
            bits[bitname] = ((enc >> b) & 1).astype(bool)
    out = np.zeros(n, dtype=bool)
    true = bdd.true

    def regular(f: Any) -> tuple[Any, bool]:
        return (~f, True) if f.negated else (f, False)

    heap: list[tuple[int, int, int, bool]] = []
    pending: dict[tuple[int, bool], tuple[Any, list[IntArray]]] = {}
    counter = 0

    def push(f: Any, parity: bool, idx: IntArray) -> None:
        nonlocal counter
        if idx.size == 0:
            return
        node, neg = regular(f)
        par = parity ^ neg
        if node == true:
            out[idx] = not par
            return
        key = (int(node), par)
        if key in pending:
            pending[key][1].append(idx)
        else:
            pending[key] = (node, [idx])
            counter += 1
            heapq.heappush(heap, (node.level, counter, key[0], par))

    push(u, False, np.arange(n))
    while heap:
        _, _, node_id, par = heapq.heappop(heap)
        node, parts = pending.pop((node_id, par))
        idx = np.concatenate(parts) if len(parts) > 1 else parts[0]
        if node.var not in bits:
            raise SkycellError(f"evaluate_bdd: no values given for bit {node.var!r}")
        bit = bits[node.var][idx]
        push(node.high, par, idx[bit])
        push(node.low, par, idx[~bit])
    return out.reshape(shape)


def _state_grid(spec: AxisSpec) -> dict[str, IntArray]:
    axes = [
        np.arange(-spec.n_pos, spec.n_pos + 1),
        np.arange(-spec.n_vel, spec.n_vel + 1),
    ]
    names = ["i", "j"]
    if spec.memory:
        axes.append(spec.levels)
        names.append("kp")
    grids = np.meshgrid(*axes, indexing="ij")
    return {n: g.astype(np.int64) for n, g in zip(names, grids, strict=True)}


def _choice_level(spec: AxisSpec, grid: dict[str, IntArray], c: int) -> IntArray:
    """The input level of choice ``c`` at every state of the grid."""
    if spec.memory:
        assert spec.slew_levels is not None
        return grid["kp"] + (c - spec.slew_levels)
    return np.full(grid["i"].shape, c - spec.input_levels, dtype=np.int64)


def extract_tables(sym: SymbolicAxis) -> tuple[BoolArray, BoolArray]:
    """``Z`` and ``C`` as dense tables over the safe box (see :class:`SynthesizedAxis`)."""
    spec = sym.spec
    grid = _state_grid(spec)
    inv = sym.evaluate(sym.invariant, grid)
    allowed = np.zeros((*spec.grid_shape, spec.choices), dtype=bool)
    for c in range(spec.choices):
        level = _choice_level(spec, grid, c)
        valid = np.abs(level) <= spec.input_levels
        vals = {**grid, "k": clip(level, -spec.input_levels, spec.input_levels)}
        allowed[..., c] = sym.evaluate(sym.controller, vals) & valid & inv
    return inv, allowed


# ---------------------------------------------------------------------------- optimisation


def _shift(a: NDArray[Any], offset: int, axis: int, fill: Any) -> NDArray[Any]:
    """``out[x] = a[x + offset]`` along ``axis``, ``fill`` where that is outside."""
    out = np.full_like(a, fill)
    n = a.shape[axis]
    if abs(offset) >= n:
        return out
    src = [slice(None)] * a.ndim
    dst = [slice(None)] * a.ndim
    if offset >= 0:
        src[axis] = slice(offset, n)
        dst[axis] = slice(0, n - offset)
    else:
        src[axis] = slice(0, n + offset)
        dst[axis] = slice(-offset, n)
    out[tuple(dst)] = a[tuple(src)]
    return out


@dataclass(frozen=True)
class _Window:
    """Successor box of one acceleration range, as slices: velocity offsets ``dj_lo..dj_hi``
    and, per group of velocity columns, the position offset ``di`` and window width."""

    dj_lo: int
    dj_hi: int
    pad: int
    width_max: int
    groups: tuple[tuple[int, int, IntArray], ...]  # (di_lo, width, columns)


def _window(spec: AxisSpec, k_lo: int, k_hi: int) -> _Window:
    j = np.arange(-spec.n_vel, spec.n_vel + 1)
    di_lo, di_hi, dj_lo, dj_hi = spec.successor_bounds(
        j, np.full(j.shape, k_lo, dtype=np.int64), np.full(j.shape, k_hi, dtype=np.int64)
    )
    width = di_hi - di_lo
    pairs = np.stack([di_lo, width], axis=1)
    uniq = np.unique(pairs, axis=0)
    groups = tuple((int(d), int(w), np.flatnonzero((di_lo == d) & (width == w))) for d, w in uniq)
    pad = int(max(np.abs(di_lo).max(), np.abs(di_hi).max())) + 1
    return _Window(int(dj_lo[0]), int(dj_hi[0]), pad, int(width.max()), groups)


def successor_cost(
    spec: AxisSpec,
    layer: FloatArray,
    k_lo: int,
    k_hi: int,
    window: _Window | None = None,
) -> FloatArray:
    """``(2 n_pos + 1, 2 n_vel + 1)``: for every cell the mean (``spec.cost == "mean"``) or the
    largest (``"worst"``) value of ``layer`` (indexed by the successor cell) over the successor
    box under accelerations in ``[k_lo, k_hi] a_q`` (the box of ``spec.cost_spec``); infinite
    where the box leaves the table."""
    w = window if window is not None else _window(spec.cost_spec, k_lo, k_hi)
    worst = spec.cost == "worst"
    combine = np.maximum if worst else np.add
    inf = np.inf
    nx = layer.shape[0]
    # the velocity window (the same offsets for every column)
    r = _shift(layer, w.dj_lo, 1, inf)
    for dj in range(w.dj_lo + 1, w.dj_hi + 1):
        combine(r, _shift(layer, dj, 1, inf), out=r)
    # sliding windows [i, i + width] over positions, padded with infinite cost
    pad = np.full((w.pad, r.shape[1]), inf)
    rp = np.concatenate([pad, r, pad, pad[: w.width_max]], axis=0)
    slides = [rp]
    for t in range(1, w.width_max + 1):
        slides.append(combine(slides[-1][:-1], rp[t:]))
    out = np.empty_like(layer)
    n_vel_window = w.dj_hi - w.dj_lo + 1
    for di, width, cols in w.groups:
        block = slides[width][w.pad + di : w.pad + di + nx][:, cols]
        out[:, cols] = block if worst else block / ((width + 1) * n_vel_window)
    return out


def optimise(
    spec: AxisSpec,
    invariant: BoolArray,
    allowed: BoolArray,
    *,
    horizon_steps: int | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int8]]:
    """Limited-optimal controller: the cumulative distance (in position cells) to the desired
    point ``x = 0`` over ``H`` steps, minimised over the allowed inputs (§3.3's ``f_O``).

    ``J_0 = c(s)``, ``J_h(s) = c(s) + min_{k in C(s)} [e(s, k) + A_{s' in Post(s, k)}
    J_{h-1}(s')]`` with the stage cost ``c = |i| + w_v |j|`` (the distance to the desired point,
    plus an optional velocity term), the effort ``e = w_u |k| + w_s |k - kp|`` (optional) and
    ``A`` the mean or the maximum over the successor box (``spec.cost``; the box of
    ``spec.cost_spec``, which lies inside the safety relation's); the returned cost is
    ``Q_H(s, k) = e(s, k) + A_{s'} J_{H-1}(s')`` per allowed input (the current cell's cost is
    common to all inputs) and the policy its minimiser (ties: smallest level change, then
    smallest level).

    Returns:
        ``q_cost`` (``grid_shape + (choices,)``, float32, infinite where not allowed) and
        ``policy`` (``grid_shape``).
    """
    h = spec.horizon_steps if horizon_steps is None else horizon_steps
    inf = np.inf
    grid = _state_grid(spec)
    grid_cost = (np.abs(grid["i"]) + spec.velocity_weight * np.abs(grid["j"])).astype(np.float64)
    j_prev = np.where(invariant, grid_cost, inf)
    levels = spec.levels
    windows: dict[tuple[int, int], _Window] = {}

    def win(lo: int, hi: int) -> _Window:
        if (lo, hi) not in windows:
            windows[(lo, hi)] = _window(spec.cost_spec, lo, hi)
        return windows[(lo, hi)]

    grid_levels = np.stack([_choice_level(spec, grid, c) for c in range(spec.choices)], axis=-1)
    effort = spec.input_weight * np.abs(grid_levels).astype(np.float64)
    if spec.memory:
        effort = effort + spec.slew_weight * np.abs(grid_levels - grid["kp"][..., None])
    q = np.full((*spec.grid_shape, spec.choices), inf)
    for _ in range(max(h, 1)):
        q = np.full((*spec.grid_shape, spec.choices), inf)
        if spec.memory:
            s = spec.slew_levels
            assert s is not None
            for kp_idx, kp in enumerate(levels):
                for c in range(spec.choices):
                    k = int(kp) + c - s
                    if abs(k) > spec.input_levels:
                        continue
                    layer = j_prev[:, :, k + spec.input_levels]
                    lo, hi = min(k, int(kp)), max(k, int(kp))
                    q[:, :, kp_idx, c] = successor_cost(spec, layer, lo, hi, win(lo, hi))
        else:
            for c, k in enumerate(levels):
                q[:, :, c] = successor_cost(spec, j_prev, int(k), int(k), win(int(k), int(k)))
        q = np.where(allowed, q + effort, inf)
        best = q.min(axis=-1)
        j_prev = np.where(invariant, grid_cost + best, inf)
    policy = _policy(spec, q, allowed, invariant)
    return q.astype(np.float32), policy


def _policy(
    spec: AxisSpec, q: FloatArray, allowed: BoolArray, invariant: BoolArray
) -> NDArray[np.int8]:
    """Minimiser of ``q`` over the allowed inputs; among inputs within ``1e-9`` relative of the
    minimum the smallest level change, then the smallest level."""
    grid = _state_grid(spec)
    levels = np.stack([_choice_level(spec, grid, c) for c in range(spec.choices)], axis=-1)
    change = np.abs(levels - grid["kp"][..., None]) if spec.memory else np.zeros_like(levels)
    tie = change * (2 * spec.input_levels + 2) + np.abs(levels)
    qq = np.where(allowed, q, np.inf)
    qmin = qq.min(axis=-1, keepdims=True)
    cand = allowed & (qq <= qmin + 1e-9 * (1.0 + np.abs(np.where(np.isfinite(qmin), qmin, 0))))
    key = np.where(cand, tie, np.iinfo(np.int64).max)
    best = np.argmin(key, axis=-1)
    chosen = np.take_along_axis(levels, best[..., None], axis=-1)[..., 0]
    return np.where(invariant, chosen, -128).astype(np.int8)


def synthesize_axis(spec: AxisSpec, *, optimise_cost: bool = True) -> SynthesizedAxis:
    """Synthesise one axis: BDD abstraction and fixpoint, tables, limited-optimal policy."""
    sym = synthesize_symbolic(spec)
    tic = time.perf_counter()
    inv, allowed = extract_tables(sym)
    extract_s = time.perf_counter() - tic
    tic = time.perf_counter()
    q: NDArray[np.float32] | None = None
    policy: NDArray[np.int8] | None = None
    if optimise_cost and inv.any():
        q, policy = optimise(spec, inv, allowed)
    stats = SynthesisStats(
        iterations=sym.iterations,
        safe_states=spec.state_count,
        invariant_states=int(inv.sum()),
        transition_nodes=int(sym.transition.dag_size),
        invariant_nodes=int(sym.invariant.dag_size),
        controller_nodes=int(sym.controller.dag_size),
        bdd_seconds=sym.seconds,
        extract_seconds=extract_s,
        optimise_seconds=time.perf_counter() - tic,
    )
    return SynthesizedAxis(
        spec=spec, invariant=inv, safe_inputs=allowed, q_cost=q, policy=policy, stats=stats
    )


# ---------------------------------------------------------------------------- run time


@dataclass
class AxisMonitor:
    """Run-time check that every realised transition is one of the abstraction's, and that the
    state never leaves the invariant (per vehicle counts)."""

    violations: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    exits: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    steps: int = 0

    def reset(self, n: int) -> None:
        """Zero the counts for ``n`` vehicles."""
        self.violations = np.zeros(n, dtype=np.int64)
        self.exits = np.zeros(n, dtype=np.int64)
        self.steps = 0


def _lookup(
    ax: SynthesizedAxis, i: IntArray, j: IntArray, kp: IntArray
) -> tuple[IntArray, BoolArray]:
    """The policy's level at cells ``(i, j)`` with previous levels ``kp``, and whether each
    state is in the invariant (elsewhere the level is a brake: the level closest to
    ``-sign(j) K`` within the slew limit)."""
    s = ax.spec
    assert ax.policy is not None
    inside = ax.in_box(i, j) & (np.abs(kp) <= s.input_levels)
    ii = clip(i, -s.n_pos, s.n_pos) + s.n_pos
    jj = clip(j, -s.n_vel, s.n_vel) + s.n_vel
    if s.memory:
        key: tuple[IntArray, ...] = (
            ii,
            jj,
            clip(kp, -s.input_levels, s.input_levels) + s.input_levels,
        )
    else:
        key = (ii, jj)
    ok = inside & ax.invariant[key]
    k = ax.policy[key].astype(np.int64)
    if not ok.all():
        want = -np.sign(j) * s.input_levels
        if s.memory:
            sl = s.slew_levels
            assert sl is not None
            want = clip(want, kp - sl, kp + sl)
        k = np.where(ok, k, clip(want, -s.input_levels, s.input_levels))
    return k, ok


def transition_ok(
    spec: AxisSpec,
    i: IntArray,
    j: IntArray,
    kp: IntArray,
    k: IntArray,
    i_new: IntArray,
    j_new: IntArray,
) -> BoolArray:
    """Whether the realised move ``(i, j) -> (i_new, j_new)`` under level ``k`` (previous
    ``kp``) is a transition of the abstraction."""
    lo = np.minimum(k, kp) if spec.memory else k
    hi = np.maximum(k, kp) if spec.memory else k
    di_lo, di_hi, dj_lo, dj_hi = spec.successor_bounds(j, lo, hi)
    d_i = i_new - i
    d_j = j_new - j
    return np.asarray((d_i >= di_lo) & (d_i <= di_hi) & (d_j >= dj_lo) & (d_j <= dj_hi))


class TrackingLaw:
    """Run-time lookup of a synthesised translational axis in error coordinates (desired point
    at 0): ``e = x - x_ref``, ``e' = x' - x_ref'``; returns the level's acceleration (the caller
    adds the reference's own). The previous level is kept per vehicle (it is part of the state
    of rate-limited axes).

    With a ``fine`` axis (same acceleration levels, a period dividing the coarse one, a
    smaller box) the law is two nested controllers: the coarse one brings the state into the
    fine one's invariant, then the fine one keeps it there for good. The switch happens at a
    coarse sampling instant and only from a state of the fine invariant, which lies inside the
    coarse safe box, so the composition keeps the coarse guarantee and adds the fine one's
    precision near the desired point.

    A vehicle found outside the active invariant (only possible if the abstraction's
    assumptions were violated) brakes; :attr:`monitor` counts those exits and every realised
    transition that is not one of the abstraction's.
    """

    def __init__(self, axis: SynthesizedAxis, fine: SynthesizedAxis | None = None) -> None:
        for ax in (axis, fine):
            if ax is not None and ax.policy is None:
                raise SkycellError(f"axis {ax.spec.name!r} was synthesised without a policy")
        self.axis = axis
        self.fine = fine
        self.spec = axis.spec
        self.ratio = 1
        if fine is not None:
            c, f = axis.spec, fine.spec
            ratio = c.period_s / f.period_s
            if (
                abs(ratio - round(ratio)) > 1e-9
                or round(ratio) < 1
                or abs(c.accel_quantum - f.accel_quantum) > 1e-12
                or f.input_levels > c.input_levels
            ):
                raise SkycellError(
                    f"fine axis {f.name!r} must share the coarse axis' acceleration levels, "
                    "have at most as many, and a period dividing the coarse period"
                )
            self.ratio = round(ratio)
        self.period_s = (fine or axis).spec.period_s
        self.monitor = AxisMonitor()
        self._level = np.zeros(0, dtype=np.int64)
        self._fine_mode = np.zeros(0, dtype=bool)
        self._calls = 0
        self._last_coarse: tuple[IntArray, IntArray, IntArray, IntArray] | None = None
        self._last_fine: tuple[IntArray, IntArray, IntArray, IntArray, BoolArray] | None = None

    def reset(self, n: int) -> None:
        """Start ``n`` vehicles at level 0 (in the fine controller when there is one and the
        state allows it: checked at the first call)."""
        self._level = np.zeros(n, dtype=np.int64)
        self._fine_mode = np.zeros(n, dtype=bool)
        self._calls = 0
        self._last_coarse = None
        self._last_fine = None
        self.monitor.reset(n)

    @property
    def level(self) -> IntArray:
        """The levels currently applied."""
        return self._level

    @property
    def fine_mode(self) -> BoolArray:
        """Which vehicles are under the fine controller."""
        return self._fine_mode

    def __call__(self, error: FloatArray, rate_error: FloatArray) -> FloatArray:
        """The acceleration to apply over the next period for errors ``(N,)`` [unit] and rate
        errors ``(N,)`` [unit/s]."""
        coarse_instant = self._calls % self.ratio == 0
        kp = self._level
        k = kp.copy()
        ic, jc = self.axis.index(error, rate_error)
        if self.fine is not None:
            fs = self.fine.spec
            i_f, j_f = self.fine.index(error, rate_error)
            if self._last_fine is not None:
                li, lj, lkp, lk, was = self._last_fine
                bad = was & ~transition_ok(fs, li, lj, lkp, lk, i_f, j_f)
                self.monitor.violations += bad
            if coarse_instant:
                _, can = _lookup(self.fine, i_f, j_f, kp)
                self._fine_mode = self._fine_mode | can
            fine_now = self._fine_mode
            if fine_now.any():
                kf, okf = _lookup(self.fine, i_f, j_f, kp)
                k = np.where(fine_now, kf, k)
                self.monitor.exits += fine_now & ~okf
            self._last_fine = (i_f, j_f, kp.copy(), k.copy(), fine_now.copy())
        else:
            fine_now = np.zeros(kp.shape, dtype=bool)
        if coarse_instant:
            coarse = ~fine_now
            if self._last_coarse is not None:
                li, lj, lkp, lk = self._last_coarse
                bad = coarse & ~transition_ok(self.spec, li, lj, lkp, lk, ic, jc)
                self.monitor.violations += bad
            if coarse.any():
                kc, okc = _lookup(self.axis, ic, jc, kp)
                k = np.where(coarse, kc, k)
                self.monitor.exits += coarse & ~okc
            self._last_coarse = (ic, jc, kp.copy(), k.copy())
        self._level = k
        self._calls += 1
        self.monitor.steps += 1
        return np.asarray(k * self.spec.accel_quantum, dtype=np.float64)


class TargetLaw:
    """Run-time lookup for an attitude axis: the safe inputs come from the absolute abstraction
    (angle and rate limits), the cost from a second abstraction in error coordinates
    (``angle - target``), so one table serves every target. Among the inputs allowed at the
    absolute state the one with the lowest worst-case cost-to-go towards the target is taken."""

    def __init__(self, safety: SynthesizedAxis, cost: SynthesizedAxis) -> None:
        a, b = safety.spec, cost.spec
        same = (
            a.period_s == b.period_s
            and a.velocity_quantum == b.velocity_quantum
            and a.position_ratio == b.position_ratio
            and a.input_ratio == b.input_ratio
            and a.input_levels == b.input_levels
            and not a.memory
            and not b.memory
        )
        if not same or cost.q_cost is None:
            raise SkycellError(
                f"TargetLaw {a.name!r}: the safety and cost axes must share quanta and levels, "
                "have no memory, and the cost axis must be optimised"
            )
        self.safety = safety
        self.cost = cost
        self.spec = a
        self.monitor = AxisMonitor()
        self._last: tuple[IntArray, IntArray, IntArray] | None = None
        # rank of every level at every cost state: by cost-to-go (differences below 1e-6 of a
        # cell ignored), then by |level|; the lookup takes the allowed level of lowest rank
        q = cost.q_cost.astype(np.float64)
        key = np.where(np.isfinite(q), np.round(q * 1e6), 1e30)
        lv = np.broadcast_to(np.abs(a.levels), q.shape)
        order = np.lexsort((lv.reshape(-1, q.shape[-1]).T, key.reshape(-1, q.shape[-1]).T), axis=0)
        rank = np.empty_like(order)
        np.put_along_axis(rank, order, np.arange(q.shape[-1])[:, None], axis=0)
        self._rank = rank.T.reshape(q.shape).astype(np.int16)
        self._levels = a.levels

    def reset(self, n: int) -> None:
        """Zero the monitor for ``n`` vehicles."""
        self.monitor.reset(n)
        self._last = None

    def __call__(
        self,
        angle: FloatArray,
        rate: FloatArray,
        target: FloatArray,
        target_rate: FloatArray | float = 0.0,
    ) -> FloatArray:
        """Angular acceleration [unit/s^2] for angles, rates, targets and the targets' rates
        ``(N,)``: safety from the absolute ``(angle, rate)``, cost from ``(angle - target,
        rate - target_rate)``."""
        s = self.spec
        c = self.cost.spec
        xq, vq = s.position_quantum, s.velocity_quantum
        i = np.rint(angle / xq).astype(np.int64)
        j = np.rint(rate / vq).astype(np.int64)
        if self._last is not None:
            self._check(i, j)
        ie = np.rint((angle - target) / xq).astype(np.int64)
        je = np.rint((rate - target_rate) / vq).astype(np.int64)
        inside = (np.abs(i) <= s.n_pos) & (np.abs(j) <= s.n_vel)
        ii = clip(i, -s.n_pos, s.n_pos) + s.n_pos
        jj = clip(j, -s.n_vel, s.n_vel) + s.n_vel
        allowed = self.safety.safe_inputs[ii, jj] & inside[:, None]
        ie_c = clip(ie, -c.n_pos, c.n_pos) + c.n_pos
        jc = clip(je, -c.n_vel, c.n_vel) + c.n_vel
        rank = np.where(allowed, self._rank[ie_c, jc], 32767)
        k = self._levels[np.argmin(rank, axis=1)]
        ok = allowed.any(axis=1)
        if not ok.all():
            self.monitor.exits += ~ok
            k = np.where(ok, k, -np.sign(j) * s.input_levels)
        self._last = (i, j, k)
        self.monitor.steps += 1
        return np.asarray(k * s.accel_quantum, dtype=np.float64)

    def _check(self, i_new: IntArray, j_new: IntArray) -> None:
        assert self._last is not None
        i, j, k = self._last
        self.monitor.violations += ~transition_ok(self.spec, i, j, k, k, i_new, j_new)
