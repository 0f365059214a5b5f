"""`python -m llmcalc_xl ...` is the `llmcalc-xl` command."""

from .cli.main import main

main(prog_name="llmcalc-xl")
