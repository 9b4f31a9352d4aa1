"""Infinite Lanes: an interactive explainer of the Neural Tangent Kernel."""
