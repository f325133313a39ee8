"""The SQLite database backend of the embedded setup: Django's, with one write gate per
process (``base``)."""
