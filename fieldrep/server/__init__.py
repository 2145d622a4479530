"""The central sync server: HTTP app, authentication, storage on SQLite or PostgreSQL, merge and scope."""
