"""Operational commands: `python -m scripts.NAME`."""
