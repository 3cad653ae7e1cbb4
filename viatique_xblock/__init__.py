"""Viatique: grade scanned paper exams inside Open edX."""

__version__ = "0.2.0"
