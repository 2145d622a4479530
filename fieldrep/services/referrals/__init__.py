"""Referrals: capture at the visit, explained duplicate checks, routing, SLA and the pipeline.

- :mod:`~fieldrep.services.referrals.normalise`: phones, e-mails, company names, address keys;
- :mod:`~fieldrep.services.referrals.match_index`: the local index the duplicate check reads;
- :mod:`~fieldrep.services.referrals.duplicates`: exact keys + fuzzy names, every match explained;
- :mod:`~fieldrep.services.referrals.routing`: territory and owner, explained;
- :mod:`~fieldrep.services.referrals.capture`: the whole capture in one transaction;
- :mod:`~fieldrep.services.referrals.pipeline`: stage moves and the board's queries;
- :mod:`~fieldrep.services.referrals.importer`: referrals from a CSV/XLSX file, row by row.

Qt-free; the UI and the CLI call the same functions.
"""
