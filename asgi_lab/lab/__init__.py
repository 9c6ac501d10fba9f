"""The lab: start real uvicorn servers, drive them with real clients, read their records."""
