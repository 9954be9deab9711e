"""Paper 003's rooftop baseline: on the central roof, valid, worse than or equal to los-search."""

from __future__ import annotations

import numpy as np

from skycell.plan.assignment import check_placement
from skycell.plan.place_los_search import place_los_search
from skycell.plan.place_rooftop import MAST_HEIGHT_M, place_rooftop

from .p003_helpers import outdoor_users, paper003_scenario


def test_rooftop_on_the_central_building_and_valid() -> None:
    sc = paper003_scenario(outdoor_users(6, 1), [58.5e6, 117e6], step_m=5.0, z_range_m=(25, 60))
    city = sc.build_city()
    users = sc.users_in(city)
    p = place_rooftop(sc, city, users)
    x, y, z = p.station_xyz_m[0]
    assert city.height_at([[x, y]])[0] == city.buildings.heights_m.max()
    assert z == city.buildings.heights_m.max() + MAST_HEIGHT_M
    assert check_placement(sc, city, users, p) == []
    assert p.extra["n_los"] == int(np.sum(p.extra["los"]))
    best = place_los_search(sc, city, users)
    assert best.extra["n_los"] >= p.extra["n_los"]
