"""tomo: a self-hosted app store for homelabs."""

__version__ = "0.1.0"
