"""Clients of the engine and the service: the `roadmap` command line."""
