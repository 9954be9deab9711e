"""Building material names (ITU-R P.2040 types, as Sionna RT names them).

A light module: scenario validation checks material names here without importing the ray
tracer or torch (the Sionna RT engine, :mod:`skycell.radio.sionna_engine`, re-exports both).
"""

from __future__ import annotations

from typing import Final

#: Building material names accepted (ITU-R P.2040 types in Sionna RT); an ``itu_`` prefix is
#: stripped, so ``"itu_concrete"`` and ``"concrete"`` are the same.
MATERIALS: Final[tuple[str, ...]] = (
    "concrete",
    "brick",
    "plasterboard",
    "wood",
    "glass",
    "ceiling_board",
    "chipboard",
    "plywood",
    "marble",
    "floorboard",
    "metal",
    "very_dry_ground",
    "medium_dry_ground",
    "wet_ground",
)


def check_material(name: str) -> str:
    """The ITU material type for a building material name (``itu_`` prefix allowed).

    Raises:
        ValueError: unknown name (the message lists the allowed names).
    """
    key = name.lower().removeprefix("itu_")
    if key not in MATERIALS:
        allowed = ", ".join(repr(m) for m in MATERIALS)
        raise ValueError(f"unknown building material {name!r}; choose one of: {allowed}")
    return key
