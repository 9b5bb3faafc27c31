"""Tortoise models, one module per domain (app label `cunwu`)."""
