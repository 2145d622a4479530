"""Domain services: the only writers of domain data, shared by the GUI, the CLI and the server."""
