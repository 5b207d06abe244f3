"""The FastAPI app: routes for upstream apps, provider webhooks and customer portal pages."""
