"""Shared, session-wide synthesis of the route controller (tables kept in a temporary cache so
that the flight tests reuse them)."""

from __future__ import annotations

from pathlib import Path

import pytest

from skycell.flight.cascade import SynthesizedTables, route_specs, synthesize_controller
from skycell.flight.dynamics import BASE_STATION_QUAD


@pytest.fixture(scope="session")
def flight_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("flight-cache")


@pytest.fixture(scope="session")
def route_tables(flight_cache: Path) -> SynthesizedTables:
    return synthesize_controller(
        route_specs(BASE_STATION_QUAD, cruise_speed_m_s=10.0), cache_dir=flight_cache
    )
