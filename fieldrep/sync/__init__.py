"""The sync client: protocol shared with the server, transport, engine, and applying pulled pages locally."""
