"""Duplex: an open-source blended inbound + outbound contact center."""

__version__ = "0.1.0"
