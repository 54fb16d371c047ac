"""SQLite storage for the emulator: schema, connections and transactions.

A data directory holds `simpledb.sqlite3` in WAL mode, shared safely by any number of
threads and processes: every write runs in `BEGIN IMMEDIATE`, so a conditional write's
check and its write happen under SQLite's single writer lock, and a batch is one
transaction (all or nothing). Without a data directory the database lives in memory, on one
connection that requests take in turn.
"""

import os
import queue
import secrets
import sqlite3
from contextlib import contextmanager

FILE_NAME = "simpledb.sqlite3"

#: How long a writer waits for another process's write lock before giving up.
BUSY_TIMEOUT_SECONDS = 30

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS domains (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    name TEXT NOT NULL UNIQUE,
    created_at REAL NOT NULL,
    pair_count INTEGER NOT NULL DEFAULT 0,
    byte_count INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS items (
    domain_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    PRIMARY KEY (domain_id, name)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attrs (
    domain_id INTEGER NOT NULL,
    item TEXT NOT NULL,
    name TEXT NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (domain_id, item, name, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS attrs_by_value ON attrs (domain_id, name, value, item);
-- Each item as it was before its latest write (JSON list of [name, value]); what an
-- eventually consistent read may see.
CREATE TABLE IF NOT EXISTS previous (
    domain_id INTEGER NOT NULL,
    item TEXT NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (domain_id, item)
) WITHOUT ROWID;
"""


class Database:
    """Connections to one emulator database, handed out per transaction."""

    def __init__(self, data_dir=None):
        self.path = os.path.join(data_dir, FILE_NAME) if data_dir else None
        if data_dir:
            os.makedirs(data_dir, exist_ok=True)
        self._idle = queue.Queue()
        if self.path is None:
            # The one in-memory connection; queue.get() makes requests take turns on it.
            self._idle.put(self._connect())
        with self._checkout() as connection:
            connection.executescript(SCHEMA)
        with self.write() as connection:
            connection.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES ('token_secret', ?)",
                (secrets.token_hex(32),),
            )
        with self.read() as connection:
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'token_secret'"
            ).fetchone()
        #: Signs NextTokens; kept in the database so tokens survive a restart.
        self.token_secret = bytes.fromhex(row[0])

    def _connect(self):
        connection = sqlite3.connect(
            self.path or ":memory:",
            timeout=BUSY_TIMEOUT_SECONDS,
            isolation_level=None,
            check_same_thread=False,
        )
        if self.path:
            connection.execute("PRAGMA journal_mode = WAL")
            connection.execute("PRAGMA synchronous = NORMAL")
        return connection

    @contextmanager
    def _checkout(self):
        if self.path is None:
            connection = self._idle.get()
        else:
            try:
                connection = self._idle.get_nowait()
            except queue.Empty:
                connection = self._connect()
        try:
            yield connection
        finally:
            self._idle.put(connection)

    @contextmanager
    def _transaction(self, begin):
        with self._checkout() as connection:
            connection.execute(begin)
            try:
                yield connection
            except BaseException:
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
                raise
            # An interrupted statement (Select's time limit) may have ended the transaction.
            if connection.in_transaction:
                connection.execute("COMMIT")

    def read(self):
        """A read transaction: one consistent snapshot for several statements."""
        return self._transaction("BEGIN")

    def write(self):
        """A write transaction holding the database's write lock from its first statement."""
        return self._transaction("BEGIN IMMEDIATE")

    def close(self):
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
