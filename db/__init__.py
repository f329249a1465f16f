"""The working database: schema migrations and ``open_db``, and what every stage shares
(timestamps and JSON lists in ``values``, the one decision writer in ``decisions``)."""
