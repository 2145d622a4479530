"""Notifications: in-app messages to reps and managers, and e-mails to referrers rendered from
editable templates into an outbox (the ``notifications`` table) in the transaction of their cause,
sent by SMTP when online. Qt-free."""
