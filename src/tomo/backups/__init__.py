"""Backups of installations with restic (see docs/backups.md).

restic.py        the restic binary: init, backup from a stream, snapshots, dump,
                 forget with retention, check; its failures as domain errors
transfer.py      bytes between a server (`docker container cp`) and restic, over SSH
snapshots.py     a backup of one installation: stop, stream every path, start again
repositories.py  the repositories tomo made, their passwords sealed (models.py)
"""
