"""The screening app: a Datasette plugin (hooks only; views live in views.py)."""
