"""The laptop's side of sync: the session that pushes and pulls, and its conflicts."""
