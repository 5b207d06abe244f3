"""``python -m api``: serve the API with uvicorn on the configured host and port."""

from __future__ import annotations

import uvicorn

from core.settings import get_settings

if __name__ == "__main__":
    settings = get_settings()
    uvicorn.run("api.app:app", factory=True, host=settings.api_host, port=settings.api_port)
