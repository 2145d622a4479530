"""FieldRep: offline-first territory, account and referral management for field sales reps."""

__version__ = "0.1.0"
