"""Manager reports: Qt-free builders that return typed tables and matplotlib figures, and the writers
that turn them into CSV, XLSX and PDF files. The Reports page, the manager's home and ``fieldrep
report`` all use the same builders (see :mod:`fieldrep.reports.catalog`)."""
