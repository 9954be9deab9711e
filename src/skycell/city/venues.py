"""Named venues from the papers, built as :class:`~skycell.city.buildings.Buildings`.

Paper 003 (RLTOPA, §VI-A) simulates "an urban area" of side 100 m with "nine buildings of varying
heights", a maximum building height, and "streets and alleys of different widths" (its Fig. 1).
The building coordinates (Table I, "Buildings Coordinates") and the maximum height were lost in the
text conversion of the paper, so :func:`paper003_venue` builds a documented stand-in with the
properties the paper states; see its docstring for every number.
"""

from __future__ import annotations

from typing import Final

import numpy as np

from skycell.city.buildings import Buildings

#: Default tallest building of the paper 003 venue [m]. The paper's value is unreadable in the
#: text copy; 20 m is ns-3's default rooftop height of
#: ``ItuR1411NlosOverRooftopPropagationLossModel`` (the NLoS model of paper 003 Table I) and keeps
#: every building below the 25 m floor of the positioning volume, so that every grid point of that
#: volume is outdoors.
PAPER003_MAX_HEIGHT_M: Final[float] = 20.0

#: Building bands of the 3 x 3 layout as fractions of the venue side, measured from the venue
#: centre: three x-bands (west, centre, east) and three y-bands (south, centre, north). The gaps
#: between the bands are the streets and alleys: along x a 6 %-wide west margin, a 6 % alley, a
#: 12 % street and a 4 % east margin; along y a 4 % south margin, a 4 % alley, a 12 % street and a
#: 6 % north margin (on the 100 m venue: alleys of 6 m and 4 m, streets of 12 m).
_X_BANDS: Final = ((-0.44, -0.20), (-0.14, 0.12), (0.24, 0.46))
_Y_BANDS: Final = ((-0.46, -0.22), (-0.18, 0.14), (0.26, 0.44))
#: Range of the non-central heights as fractions of the maximum height.
_HEIGHT_FRACTION: Final = (0.4, 0.95)


def paper003_venue(
    *, side_m: float = 100.0, max_height_m: float = PAPER003_MAX_HEIGHT_M, seed: int = 0
) -> Buildings:
    """The nine-building venue of paper 003 §VI-A (a documented stand-in for its Table I).

    Layout: a 3 x 3 grid of rectangular buildings centred on the origin inside the square
    ``[-side_m/2, side_m/2]^2``, separated by alleys and streets of different widths (the band
    fractions in ``_X_BANDS`` / ``_Y_BANDS``; on the default 100 m venue the footprints are
    x in [-44, -20], [-14, 12], [24, 46] m and y in [-46, -22], [-18, 14], [26, 44] m, leaving
    alleys of 6 m (x) and 4 m (y) and streets of 12 m). Buildings are listed row by row from the
    south-west; index 4 is the central building (paper 003's baseline AP sits on its roof).

    Heights: the central building is the tallest, ``max_height_m``; the eight others are drawn
    uniformly in ``[0.4, 0.95] * max_height_m`` with ``numpy.random.default_rng(seed)`` and rounded
    to 0.5 m, so the same seed gives the same venue.

    Args:
        side_m: side of the square venue [m] (paper 003: 100 m).
        max_height_m: tallest building [m] (the paper's value is lost in the text copy; default
            :data:`PAPER003_MAX_HEIGHT_M` = 20 m, below the 25 m floor of its positioning volume).
        seed: seed of the heights.

    Returns:
        Nine prism buildings (material ``"concrete"``).

    Raises:
        ValueError: ``side_m`` or ``max_height_m`` is not a positive finite number.
    """
    problems = [
        f"{name}={value!r} must be a positive finite number [m]"
        for name, value in (("side_m", side_m), ("max_height_m", max_height_m))
        if not (np.isfinite(value) and value > 0)
    ]
    if problems:
        raise ValueError("paper003_venue: " + "; ".join(problems))
    rng = np.random.default_rng(seed)
    lo, hi = _HEIGHT_FRACTION
    heights = np.round(rng.uniform(lo, hi, 9) * max_height_m * 2.0) / 2.0
    heights = np.maximum(heights, 0.5)
    heights[4] = max_height_m
    footprints = []
    for y0, y1 in _Y_BANDS:
        for x0, x1 in _X_BANDS:
            xs = np.array([x0, x1]) * side_m
            ys = np.array([y0, y1]) * side_m
            footprints.append(
                np.array([[xs[0], ys[0]], [xs[1], ys[0]], [xs[1], ys[1]], [xs[0], ys[1]]])
            )
    return Buildings(
        footprints_m=tuple(footprints),
        heights_m=np.minimum(heights, max_height_m),
        materials=("concrete",) * 9,
    )
