"""The suite's core, importing nothing of pytest. Today: the option table."""
