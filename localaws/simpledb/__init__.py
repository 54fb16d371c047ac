"""A faithful local Amazon SimpleDB (API 2009-04-15) for development and tests.

Layout, as in moto's services: `models.py` (state and semantics over SQLite, `storage.py`),
`responses.py` (one thin handler per action), `exceptions.py` (one class per AWS error
code), `app.py` (WSGI routing, SigV2 in `auth.py`, fault injection in `faults.py`),
`server.py` (HTTP serving), and `select/` (the Select language: parser and SQL translation).
Never imported by production code.
"""

from .server import SimpleDBServer

__all__ = ["SimpleDBServer"]
