"""Helpers loaded only by tests (never by production)."""
