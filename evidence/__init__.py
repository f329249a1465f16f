"""The evidence tracker: harvest, deduplicate, screen and publish literature for a yearly report."""

__version__ = "0.1.0"
