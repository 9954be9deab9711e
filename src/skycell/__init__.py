"""skycell: plan deployments of airborne base stations over real cities."""

__version__ = "0.1.0"
