"""The HTTP API (FastAPI) under /api/v1, the event WebSocket, health and metrics."""
