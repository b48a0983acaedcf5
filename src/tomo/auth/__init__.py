"""Accounts: users and roles, passwords, browser sessions, API tokens, the audit log."""
