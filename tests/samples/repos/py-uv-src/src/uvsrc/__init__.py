def print_version() -> None:
    from importlib.metadata import version
    print(version("uvsrc"))
