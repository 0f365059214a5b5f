"""The `llmcalc-xl` command: parses options, calls the core and the other surfaces, prints."""
