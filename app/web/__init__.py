"""The explainer page: templates, static files (plotly.js from the installed package), security headers."""
