"""Referral rewards: rules by version, the ledger a stage move writes, approvals and payouts,
balances, metrics and the next visit's "close the loop" panel. Qt-free."""
