"""``rooftop``: paper 003's baseline, a fixed access point on the roof of the central building.

Paper 003 §VI-C: "The baseline position is a stationary AP positioned at the center of the venue,
mounted on the rooftop of the central building." Here the central building is the one whose
footprint contains the centre of the positioning area (``fleet.positioning_area``, default the
map), or else the one nearest to it; the AP stands at the centroid of its roof on a mast of
:data:`MAST_HEIGHT_M` (the paper gives no mast height; 2 m keeps the antenna clear of the roof).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

import numpy as np
import shapely
from numpy.typing import NDArray

from skycell.errors import InfeasibleError
from skycell.plan.assignment import UserPlacement
from skycell.plan.place_los_search import serve_users

if TYPE_CHECKING:
    from skycell.city.buildings import City
    from skycell.scenario import Scenario, User

#: Height of the AP's mast above the roof [m] (not given by paper 003).
MAST_HEIGHT_M: Final[float] = 2.0


def rooftop_position_m(
    scenario: Scenario, city: City, *, mast_m: float = MAST_HEIGHT_M
) -> NDArray[np.float64]:
    """``(3,)`` position [m] of paper 003's rooftop AP: centroid of the central building's roof
    plus ``mast_m``.

    Raises:
        InfeasibleError: the city has no building.
    """
    b = city.buildings
    if len(b) == 0:
        raise InfeasibleError(
            "the rooftop baseline needs a building to stand on",
            {"city": "the city has no buildings; add them or choose another method"},
        )
    a = scenario.fleet.positioning_area or scenario.area
    centre = shapely.Point(0.5 * (a.x_min_m + a.x_max_m), 0.5 * (a.y_min_m + a.y_max_m))
    dist = shapely.distance(b.polygons, centre)
    k = int(np.argmin(dist))  # 0 for the building containing the centre
    c = shapely.centroid(b.polygons[k])
    return np.array([c.x, c.y, float(b.heights_m[k]) + mast_m])


def place_rooftop(
    scenario: Scenario,
    city: City,
    users: tuple[User, ...],
    *,
    seed: int = 0,
    progress: Callable[[str, float], None] | None = None,
    mast_m: float = MAST_HEIGHT_M,
) -> UserPlacement:
    """Paper 003's baseline: one AP fixed on the roof of the central building (see the module
    docstring). It serves every user whose link carries its demand while the airtime lasts, as
    :func:`skycell.plan.place_los_search.place_los_search` does.

    Args:
        scenario, city, users: the problem.
        seed: unused (deterministic); accepted for the common interface.
        progress: optional ``progress(stage, fraction)`` callback.
        mast_m: height of the AP above the roof [m].

    Raises:
        InfeasibleError: the city has no building.
    """
    del seed
    t0 = time.perf_counter()
    position = rooftop_position_m(scenario, city, mast_m=mast_m)
    assoc, notes, figures = serve_users(scenario, city, users, position)
    if progress is not None:
        progress("rooftop: done", 1.0)
    los = np.asarray(figures["los"], dtype=bool)
    return UserPlacement(
        method="rooftop",
        station_xyz_m=position.reshape(1, 3),
        association=assoc,
        wall_time_s=time.perf_counter() - t0,
        notes=notes,
        extra={
            "n_los": int(los.sum()),
            "summed_rate_bps": float(np.sum(figures["rate_bps"])),
            "mast_m": mast_m,
            **figures,
        },
    )
