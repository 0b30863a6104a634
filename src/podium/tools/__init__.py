"""Built-in tools, MCP servers, the credential vault and approvals."""
