"""The catalogs: TOML data files (models, API prices, hardware, engines, precisions) and their loader."""
