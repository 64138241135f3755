"""Serving MCP over streamable HTTP: who may connect (guard.py), what one connection may hold
(connections.py), and the port and the app (app.py)."""

from docs_mcp.http.app import build_http_app, check_exposure, listen, serve_http

__all__ = ["build_http_app", "check_exposure", "listen", "serve_http"]
