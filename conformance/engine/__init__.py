"""The suite's core, importing nothing of pytest (issue: a pytest-free engine). Today: the option table."""
