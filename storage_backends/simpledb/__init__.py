"""Django backends on Amazon SimpleDB: a session engine (`sessions`) and a cache (`cache`),
over one small client (`client`)."""
