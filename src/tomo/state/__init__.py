"""tomo's own state (database, secret key, settings, personal catalog) as one
encrypted archive: `tomo state export` and `tomo state import`."""
