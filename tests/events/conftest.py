"""The remote CLI's fixtures (a real `tomo serve`, a laptop logged in to it), shared."""

from tests.cli.test_remote import laptop, local, served  # noqa: F401 - fixtures
