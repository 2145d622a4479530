"""Report builders and chart builders (Qt-free)."""
