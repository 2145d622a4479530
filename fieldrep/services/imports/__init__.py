"""Reading account and contact files: read -> map -> validate -> dedupe -> write."""
