"""Roadmap Engine test suite."""
