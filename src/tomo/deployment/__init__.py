"""Deployment: installing, tracking and managing apps on servers."""
