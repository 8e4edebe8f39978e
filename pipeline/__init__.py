"""Statistiques: ENT event exports → Parquet lake → indicators → static site."""

__version__ = "0.1.0"
