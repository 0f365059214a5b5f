"""The quote workbook: built with live native formulas, refreshed, exported."""
