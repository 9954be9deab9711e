"""City geometry: buildings as prisms, distances, line of sight, generators and importers."""

from skycell.city.buildings import Buildings, City, bbox_distance_m, polygon_distance_m
from skycell.city.generate import generate_downtown
from skycell.city.geojson import GeoJSONError, load_geojson, lonlat_to_local_m, save_geojson
from skycell.city.los import GridIndex, line_of_sight

__all__ = [
    "Buildings",
    "City",
    "GeoJSONError",
    "GridIndex",
    "bbox_distance_m",
    "generate_downtown",
    "line_of_sight",
    "load_geojson",
    "lonlat_to_local_m",
    "polygon_distance_m",
    "save_geojson",
]
