"""Small ASGI apps that some experiments need besides the catalogue, each wrapped in the probe."""

__all__: list[str] = []
