"""Shared plumbing: settings, typed errors, wiring of clients."""
