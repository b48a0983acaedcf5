"""Servers: the fleet tomo manages, and SSH to reach it."""
