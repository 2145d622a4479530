"""The account book: the service, duplicate keys, visits and exports."""
