"""Dashboard pages; each module exposes one page function."""
