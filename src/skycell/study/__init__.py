"""Studies that reproduce a paper's analysis end to end (paper 002's ray-tracing channel study).

Sionna RT (extra ``rt``) and ``itur`` are imported only when a study runs.
"""

from skycell.study.channel import (
    PAPER002_FREQUENCIES_HZ,
    PAPER002_TABLE9,
    PAPER002_TABLE10,
    ChannelStudyResult,
    FrequencyStudy,
    RssMap,
    StudyTable,
    Weather,
    parse_frequencies,
    parse_station,
    run_channel_study,
    table9,
    table10,
)
from skycell.study.itu import (
    FOLIAGE_MODELS,
    foliage_loss_db,
    gaseous_specific_attenuation_db_per_km,
    rain_specific_attenuation_db_per_km,
)
from skycell.study.report import write_channel_study
from skycell.study.stats import CloseInFit, fit_close_in, rms_delay_spread_s

__all__ = [
    "FOLIAGE_MODELS",
    "PAPER002_FREQUENCIES_HZ",
    "PAPER002_TABLE9",
    "PAPER002_TABLE10",
    "ChannelStudyResult",
    "CloseInFit",
    "FrequencyStudy",
    "RssMap",
    "StudyTable",
    "Weather",
    "fit_close_in",
    "foliage_loss_db",
    "gaseous_specific_attenuation_db_per_km",
    "parse_frequencies",
    "parse_station",
    "rain_specific_attenuation_db_per_km",
    "rms_delay_spread_s",
    "run_channel_study",
    "table9",
    "table10",
    "write_channel_study",
]
