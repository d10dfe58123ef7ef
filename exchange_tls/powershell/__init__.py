"""Readers for PowerShell output formats, shared by every kind of evidence."""
