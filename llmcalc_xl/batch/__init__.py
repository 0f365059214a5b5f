"""`fill`: scenarios from CSV (or Parquet) priced in one vectorised pass."""
