"""Reports: PNG maps and console tables."""
