"""CLI command modules (see :mod:`recforge.cli`)."""
