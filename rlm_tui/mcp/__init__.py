"""`rlm-tui mcp`: a stdio MCP server whose tools answer questions with RLM sessions (opened
through the public API, rlm_tui.api) and report what a context holds. Needs the `mcp` extra
(rlm-tui[mcp]); nothing here is imported by other commands."""
