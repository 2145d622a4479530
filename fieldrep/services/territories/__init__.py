"""Territories: definitions, boundary files, assignment, quotas, balance and KPIs."""
