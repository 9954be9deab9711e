"""Loading the ns-3 Python bindings (extra ``ns3``) and asking ns-3's own propagation models.

The PyPI package ``ns3`` (3.44) ships ns-3 compiled with cppyy bindings: ``from ns import ns``
JIT-compiles the headers, which costs about 20-30 s of CPU and 0.7 GB per process, and Cling
prints a harmless warning about ``g_timeInitHelper`` (``runStaticInitializersOnce: Failed to
materialize symbols``) on the C-level standard error. :func:`load_ns3` imports once per process,
filters exactly those lines and passes everything else through; callers that run many
simulations import once and fork (:mod:`skycell.validate.ns3`).

:func:`ns3_path_loss_db` evaluates ns-3's ``ItuR1411LosPropagationLossModel`` or
``ItuR1411NlosOverRooftopPropagationLossModel`` for pairs of positions: the reference that
:mod:`skycell.radio.pathloss` is cross-checked against, and the per-link loss the network
simulation uses.
"""

from __future__ import annotations

import importlib.util
import os
import sys
import tempfile
import threading
from typing import Any, Final

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Substrings of the lines Cling prints on stderr at import that are known to be harmless.
IMPORT_NOISE: Final[tuple[str, ...]] = ("g_timeInitHelper", "runStaticInitializersOnce")

#: ns-3 model names of the two ITU-R P.1411 models paper 003 simulates with.
NS3_LOS_MODEL: Final[str] = "ItuR1411LosPropagationLossModel"
NS3_NLOS_MODEL: Final[str] = "ItuR1411NlosOverRooftopPropagationLossModel"

_NS: Any = None
_LOCK = threading.Lock()

_HINT: Final[str] = (
    "the `ns3` extra is not installed: pip install 'skycell[ns3]' (it builds the cppyy backend "
    "on install, about 3 minutes, and needs g++)"
)


def ns3_available() -> tuple[bool, str]:
    """Whether the ns-3 bindings are installed: ``(True, "")`` or ``(False, reason)``.

    Looks for the ``ns`` package without importing it (importing costs about 20 s)."""
    try:
        found = importlib.util.find_spec("ns") is not None
    except (ImportError, ValueError):
        found = False
    return (True, "") if found else (False, _HINT)


def load_ns3() -> Any:
    """The ``ns`` namespace of the ns-3 bindings, imported once per process.

    Cling's harmless ``g_timeInitHelper`` warning is removed from the process's standard error;
    any other line printed during the import is passed on unchanged.

    Raises:
        ImportError: the ``ns3`` extra is missing (the message says how to install it).
    """
    global _NS
    if _NS is not None:
        return _NS
    with _LOCK:
        if _NS is not None:
            return _NS
        ok, why = ns3_available()
        if not ok:
            raise ImportError(why)
        sys.stderr.flush()
        saved = os.dup(2)
        with tempfile.TemporaryFile(mode="w+b") as sink:
            os.dup2(sink.fileno(), 2)
            try:
                from ns import ns
            finally:
                sys.stderr.flush()
                os.dup2(saved, 2)
                os.close(saved)
                sink.seek(0)
                text = sink.read().decode("utf-8", errors="replace")
        kept = [ln for ln in text.splitlines() if ln and not any(k in ln for k in IMPORT_NOISE)]
        if kept:
            sys.stderr.write("\n".join(kept) + "\n")
        _NS = ns
        return ns


def _positions(ns: Any, xyz: NDArray[np.float64]) -> list[Any]:
    out = []
    for x, y, z in xyz:
        m = ns.CreateObject[ns.ConstantPositionMobilityModel]()
        m.SetPosition(ns.Vector(float(x), float(y), float(z)))
        out.append(m)
    return out


def ns3_itu_r_p1411_model(
    los: bool,
    frequency_hz: float,
    *,
    rooftop_height_m: float = 20.0,
    street_orientation_deg: float = 45.0,
    street_width_m: float = 20.0,
    buildings_extend_m: float = 80.0,
    building_separation_m: float = 50.0,
) -> Any:
    """A new ns-3 ``ItuR1411LosPropagationLossModel`` (``los``) or
    ``ItuR1411NlosOverRooftopPropagationLossModel`` with the given attributes (ns-3's defaults:
    urban, large city, and the street geometry above)."""
    ns = load_ns3()
    if los:
        m = ns.CreateObject[ns.ItuR1411LosPropagationLossModel]()
        m.SetAttribute("Frequency", ns.DoubleValue(float(frequency_hz)))
        return m
    m = ns.CreateObject[ns.ItuR1411NlosOverRooftopPropagationLossModel]()
    for name, value in (
        ("Frequency", frequency_hz),
        ("RooftopLevel", rooftop_height_m),
        ("StreetsOrientation", street_orientation_deg),
        ("StreetsWidth", street_width_m),
        ("BuildingsExtend", buildings_extend_m),
        ("BuildingSeparation", building_separation_m),
    ):
        m.SetAttribute(name, ns.DoubleValue(float(value)))
    return m


def ns3_path_loss_db(
    los: bool,
    a_xyz_m: ArrayLike,
    b_xyz_m: ArrayLike,
    frequency_hz: float,
    **nlos_geometry: float,
) -> NDArray[np.float64]:
    """ns-3's own ITU-R P.1411 loss [dB] for each pair of positions, ``GetLoss(a, b)``.

    Args:
        los: the LoS model (``True``) or the NLoS over-rooftop model (``False``).
        a_xyz_m, b_xyz_m: ``(S, 3)`` positions [m] (broadcast against each other). The order
            matters for the NLoS model, whose ``k_d`` divides by the height of its *first*
            argument (see
            :func:`skycell.radio.pathloss.itu_r_p1411_nlos_over_rooftop_path_loss_db`).
        frequency_hz: the model's ``Frequency`` attribute [Hz].
        **nlos_geometry: attributes of the NLoS model (:func:`ns3_itu_r_p1411_model`).

    Returns:
        ``(S,)`` losses [dB] (a loop over pairs in ns-3: a reference, not a hot path).
    """
    a = np.atleast_2d(np.asarray(a_xyz_m, dtype=np.float64))
    b = np.atleast_2d(np.asarray(b_xyz_m, dtype=np.float64))
    a, b = np.broadcast_arrays(a, b)
    if a.shape[-1] != 3:
        raise ValueError(f"positions must be (S, 3) arrays [m], got shape {a.shape}")
    ns = load_ns3()
    model = ns3_itu_r_p1411_model(los, frequency_hz, **nlos_geometry)
    pa, pb = _positions(ns, a), _positions(ns, b)
    return np.array([model.GetLoss(u, v) for u, v in zip(pa, pb, strict=True)], dtype=np.float64)
