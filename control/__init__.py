"""The control plane: projects, services and deployment records. Called by the API, the
dashboard and the CLI; the worker only moves deployments through their states."""
