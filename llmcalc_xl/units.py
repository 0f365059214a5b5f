"""Unit constants. GB is 10^9 bytes, GiB is 2^30 bytes (see README, "Units")."""

BYTES_PER_GB = 1e9
BYTES_PER_GIB = float(2**30)
TOKENS_PER_MTOK = 1e6
SECONDS_PER_HOUR = 3600.0
HOURS_PER_DAY = 24.0
#: 8760 hours a year / 12 months: the convention cloud providers use for monthly prices.
HOURS_PER_MONTH = 730.0
TERA = 1e12
