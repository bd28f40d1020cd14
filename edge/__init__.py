"""Routing: labels on containers, the route table, and the proxy that serves it."""
