"""The JSON API (``/api/v1``) and the health endpoints: thin handlers over ``app.ntk``."""
