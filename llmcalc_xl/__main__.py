"""`python -m llmcalc_xl ...` is the `llmcalc-xl` command."""

from .cli import main

main(prog_name="llmcalc-xl")
