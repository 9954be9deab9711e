"""Checked names of the analytic models, shared by the scenario validator and the radio package."""

from __future__ import annotations

#: Path-loss model names accepted in ``radio.pathloss_model`` of a scenario; the first is the
#: default (3GPP TR 36.777 Annex B aerial-vehicle UMa, valid for UAV heights 22.5-300 m).
PATHLOSS_MODELS: tuple[str, ...] = (
    "tr36777_uma_av",
    "free_space",
    "al_hourani",
    "tr38901_uma",
    "tr38901_umi",
    "itu_r_p1411",
    "tr36777_umi_av",
    "al_hourani_mean",  # paper 004: Al-Hourani mean over the LoS probability (no geometric LoS)
)

#: Al-Hourani environments (paper 004 eqs. 1-3; NOTES.md), accepted in ``radio.environment``.
ENVIRONMENTS: tuple[str, ...] = ("suburban", "urban", "dense_urban", "high_rise_urban", "paper004")

#: Antenna pattern names accepted for stations and users.
ANTENNA_PATTERNS: tuple[str, ...] = ("isotropic", "dipole", "tr38901")
