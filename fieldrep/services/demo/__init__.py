"""The embedded demo book: an organisation, accounts, activity and referrals."""
