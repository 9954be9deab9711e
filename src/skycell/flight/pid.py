"""PID baselines (paper 002 §4, Table 5): one PID loop per axis, x, y, z and roll, pitch, yaw.

The loops are arranged as the synthesised controller's (:mod:`skycell.flight.cascade`): the
position loops output an acceleration (turned into thrust and attitude targets by the same plant
inversion), the attitude loops an angular acceleration (turned into torques). Both controller
families therefore see the same plant, the same actuator limits and the same sampling, and
differ only in the law. Each loop is

    out = Kp e + Ki int(e) + Kd e'

with ``e = target - measured`` and ``e' = target' - measured'`` (the measured rate, so a step
of the target causes no derivative kick), the output clipped to the axis' limits and the
integrator frozen while the output saturates (conditional integration anti-windup).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from skycell.errors import SkycellError
from skycell.flight._util import clip

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class PIDGains:
    """Gains of one loop.

    Attributes:
        kp: proportional gain [output unit per error unit].
        ki: integral gain [output unit per error unit second].
        kd: derivative gain [output unit per error unit per second].
    """

    kp: float
    ki: float
    kd: float

    def __post_init__(self) -> None:
        for key in ("kp", "ki", "kd"):
            v = getattr(self, key)
            if not (isinstance(v, int | float) and np.isfinite(v) and v >= 0):
                raise SkycellError(f"PID gain {key} must be a finite number >= 0, got {v!r}")

    def as_tuple(self) -> tuple[float, float, float]:
        """``(kp, ki, kd)``."""
        return (self.kp, self.ki, self.kd)


class PIDLaw:
    """A vectorised PID loop over ``N`` vehicles, sampled every ``period_s``.

    Args:
        gains: the gains.
        period_s: sampling period [s] (the integrator's step).
        output_limit: ``(lo, hi)`` of the output.
    """

    def __init__(
        self, gains: PIDGains, *, period_s: float, output_limit: tuple[float, float]
    ) -> None:
        if not period_s > 0:
            raise SkycellError(f"PID period_s must be > 0, got {period_s}")
        lo, hi = output_limit
        if not lo < hi:
            raise SkycellError(
                f"PID output_limit must be (lo, hi) with lo < hi, got {output_limit}"
            )
        self.gains = gains
        self.period_s = float(period_s)
        self.limit = (float(lo), float(hi))
        self._integral = np.zeros(0)

    def reset(self, n: int) -> None:
        """Zero the integrators of ``n`` vehicles."""
        self._integral = np.zeros(n)

    def __call__(self, error: FloatArray, rate_error: FloatArray) -> FloatArray:
        """The output for errors ``target - measured`` and their rates ``(N,)``."""
        g = self.gains
        e = np.asarray(error, dtype=np.float64)
        raw = g.kp * e + g.ki * self._integral + g.kd * np.asarray(rate_error, dtype=np.float64)
        out = clip(raw, *self.limit)
        # integrate only where the output is not saturated, or where integrating unwinds it
        free = (raw == out) | ((e > 0) != (raw > 0))
        self._integral = self._integral + np.where(free, e * self.period_s, 0.0)
        return np.asarray(out)


def pid_scalar_step(
    gains: PIDGains,
    integral: float,
    error: float,
    rate_error: float,
    period_s: float,
    lo: float,
    hi: float,
) -> tuple[float, float]:
    """One step of :class:`PIDLaw` for a single vehicle in plain floats (the metaheuristics
    evaluate thousands of step responses): returns ``(output, new_integral)``."""
    raw = gains.kp * error + gains.ki * integral + gains.kd * rate_error
    out = lo if raw < lo else hi if raw > hi else raw
    if raw == out or (error > 0) != (raw > 0):
        integral += error * period_s
    return out, integral
