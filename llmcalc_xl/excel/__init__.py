"""Excel functions (=LLM_COST() ...) through xlwings, and the `excel-setup` helper."""
