"""Errors the server raises on purpose, under one root.

Exception tree::

    ServerError
    └── NotLoadedError   no rule base is loaded yet (calls get UNAVAILABLE)

The engine's own errors (``engine.errors.RoadmapError``) reach the service too; the
table ``server.service.OUTCOMES`` maps both to statuses.
"""

from __future__ import annotations


class ServerError(Exception):
    """Root of every error the server raises on purpose."""


class NotLoadedError(ServerError):
    """No rule base is being served yet."""
