"""Skills- and value-based routing: a pure core and two backends (in-memory and Redis)."""
