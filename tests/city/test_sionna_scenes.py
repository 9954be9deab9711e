"""Built-in Sionna RT city scenes imported as skycell Cities (skipped without `rt`)."""

from __future__ import annotations

import numpy as np
import pytest

from skycell.city.sionna_scenes import BUILTIN_CITIES, load_builtin_city
from skycell.radio.sionna_engine import rt_available

_OK, _WHY = rt_available()
pytestmark = pytest.mark.skipif(not _OK, reason=f"Sionna RT engine unavailable: {_WHY}")


def test_munich_imports_as_city() -> None:
    city = load_builtin_city("munich")
    b = city.buildings
    assert len(b) > 500
    assert np.all(b.heights_m > 0) and np.all(b.heights_m <= 150)
    x0, y0, x1, y1 = city.bounds_m
    bb = b.bbox_m
    assert np.all(bb[:, 0] >= x0) and np.all(bb[:, 1] >= y0)
    assert np.all(bb[:, 2] <= x1) and np.all(bb[:, 3] <= y1)
    assert set(b.materials) <= {"marble", "metal", "brick", "wood", "concrete", "glass"}
    # LoS: high above the roofs is clear, a ground-level link through the tallest building is not
    i = int(np.argmax(b.heights_m))
    c = b.polygons[i].representative_point()
    a = np.array([[c.x - 2000.0, c.y, 1.5], [x0, y0, 500.0]])
    z = np.array([[c.x + 2000.0, c.y, 1.5], [x1, y1, 500.0]])
    assert city.line_of_sight(a, z).tolist() == [False, True]
    assert city.inside_building([[c.x, c.y, 1.0]]).tolist() == [True]


def test_unknown_city_lists_allowed_names() -> None:
    with pytest.raises(ValueError, match="munich") as err:
        load_builtin_city("atlantis")
    for name in BUILTIN_CITIES:
        assert name in str(err.value)
