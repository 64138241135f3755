"""docs-mcp: a documentation server for AI assistants, over the Model Context Protocol.

The public surface is deliberately small: the service that both the CLI and the
MCP server use, the settings that configure it, and the error base class. They
are imported lazily so that `import docs_mcp.markdown` stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["DocsMcpError", "DocsService", "Settings", "__version__"]

if TYPE_CHECKING:
    from docs_mcp.config import Settings
    from docs_mcp.errors import DocsMcpError
    from docs_mcp.search import DocsService


def __getattr__(name: str) -> Any:
    if name == "Settings":
        from docs_mcp.config import Settings

        return Settings
    if name == "DocsMcpError":
        from docs_mcp.errors import DocsMcpError

        return DocsMcpError
    if name == "DocsService":
        from docs_mcp.search import DocsService

        return DocsService
    raise AttributeError(f"module 'docs_mcp' has no attribute {name!r}")
