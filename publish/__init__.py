"""Outputs: the published database and its Datasette site, file exports, and the push to Zotero."""
