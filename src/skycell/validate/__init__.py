"""Validation of skycell's models against references: the ray tracer against free space and
the analytic channel engine against the ray tracer (:mod:`skycell.validate.crosscheck`).

Everything that traces rays needs the ``rt`` extra (Sionna RT) and LLVM 16+; importing this
package does not.
"""

from skycell.validate.crosscheck import (
    CITY_COLUMNS,
    OPEN_GROUND_COLUMNS,
    OPEN_GROUND_TOLERANCE_DB,
    AgreementStats,
    CityCrosscheck,
    CrosscheckRun,
    OpenGroundResult,
    crosscheck_city,
    crosscheck_open_ground,
    ground_permittivity,
    plot_crosscheck,
    render,
    run_crosscheck,
    sample_aoi_users,
    two_ray_path_gain_db,
)

__all__ = [
    "CITY_COLUMNS",
    "OPEN_GROUND_COLUMNS",
    "OPEN_GROUND_TOLERANCE_DB",
    "AgreementStats",
    "CityCrosscheck",
    "CrosscheckRun",
    "OpenGroundResult",
    "crosscheck_city",
    "crosscheck_open_ground",
    "ground_permittivity",
    "plot_crosscheck",
    "render",
    "run_crosscheck",
    "sample_aoi_users",
    "two_ray_path_gain_db",
]
