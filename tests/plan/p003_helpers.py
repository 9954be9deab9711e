"""Small paper 003 scenarios built in memory for the placement tests."""

from __future__ import annotations

from typing import Any

import numpy as np

from skycell.city.venues import paper003_venue
from skycell.scenario import Scenario, scenario_from_dict


def paper003_dict(
    users_xy: np.ndarray,
    demands_bps: list[float],
    *,
    step_m: float = 1.0,
    z_range_m: tuple[float, float] = (25.0, 100.0),
    rltopa: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A paper 003 scenario (venue, Table I radio, 160 MHz) as plain builtins."""
    venue = paper003_venue()
    return {
        "name": "p003-test",
        "area": {"x_min_m": -50, "y_min_m": -50, "x_max_m": 50, "y_max_m": 50},
        "city": {
            "buildings": [
                {"footprint_m": f.tolist(), "height_m": float(h)}
                for f, h in zip(venue.footprints_m, venue.heights_m, strict=True)
            ]
        },
        "users": [
            {
                "id": f"ue{k}",
                "position_m": [float(x), float(y), 1.5],
                "demand_bps": float(demands_bps[k % len(demands_bps)]),
            }
            for k, (x, y) in enumerate(users_xy)
        ],
        "fleet": {
            "stations": 1,
            "altitude_m": z_range_m[0],
            "min_altitude_m": z_range_m[0],
            "max_altitude_m": z_range_m[1],
            "positioning_area": {"x_min_m": -50, "y_min_m": -50, "x_max_m": 50, "y_max_m": 50},
            "grid_step_m": step_m,
        },
        "radio": {
            "standard": "wifi-80211ac",
            "frequency_hz": 5.25e9,
            "channel_width_mhz": 160,
            "tx_power_dbm": 20.0,
            "user_tx_power_dbm": 20.0,
            "noise_floor_dbm": -85.0,
            "pathloss_model": "itu_r_p1411",
            "station_antenna": "isotropic",
            "user_antenna": "isotropic",
            "link_direction": "uplink",
        },
        "placement": {"method": "los-search", "grid_margin_m": 10, "rltopa": rltopa or {}},
    }


def outdoor_users(n: int, seed: int) -> np.ndarray:
    """``(n, 2)`` random user positions [m] at least 1 m from every wall, with non-round
    coordinates (no exact roof-edge grazes on the integer grid)."""
    from skycell.city.buildings import City

    city = City(bounds_m=(-50, -50, 50, 50), buildings=paper003_venue())
    rng = np.random.default_rng(seed)
    pts = rng.uniform(-48.0, 48.0, (20 * n, 2))
    pts = pts[city.distance_to_buildings_m(pts, method="polygon") >= 1.0]
    return pts[:n]


def paper003_scenario(users_xy: np.ndarray, demands_bps: list[float], **kw: Any) -> Scenario:
    """:func:`paper003_dict` validated."""
    return scenario_from_dict(paper003_dict(users_xy, demands_bps, **kw))
