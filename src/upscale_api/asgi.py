"""The ASGI application for external servers: ``uvicorn upscale_api.asgi:app``."""

from upscale_api.app import create_app
from upscale_api.settings import load_settings

app = create_app(load_settings())
