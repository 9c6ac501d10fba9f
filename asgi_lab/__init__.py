"""asgi_lab: see which process, event loop and thread ran each request."""

__version__ = "0.1.0"

__all__ = ["__version__"]
