"""Day two for updates: policies and maintenance windows, floating tags checked
against their registries, and automatic updates (see watcher.py)."""
