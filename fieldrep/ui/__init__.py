"""The desktop app: the only package that imports PySide6 (besides ``fieldrep/app.py``)."""
