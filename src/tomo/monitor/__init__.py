"""The health monitor of `tomo serve`: one pass per interval over every server at once,
recording each change of an installation's state (and of a server's reach) as one event.

health.py holds the rules (what a container's state means, which change is told);
probe.py reads every container of one server with one Docker call; monitor.py runs
the passes and keeps what each one saw.
"""
