"""An app whose module fails to import: a server must say so, and soon."""

raise RuntimeError("tests.apps.broken fails to import, on purpose")
