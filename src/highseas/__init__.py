"""HighSeas (公海): an open-source CRM built around customer ownership."""

__version__ = "0.1.0"
