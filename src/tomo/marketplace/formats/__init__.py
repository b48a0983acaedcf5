"""Catalog formats: how a repository's files become app definitions.

Each format (tomo's own, CasaOS, Runtipi, Umbrel, Portainer templates) says
which files of a tree hold apps (`find_sources`) and turns one app's files into
the one definition model (`parse`). The sync does the rest the same way for
every format: symlinks and size limits, incremental parsing by blob, per-file
errors and warnings, (repo, id) keys. See base.py for the contract.
"""
