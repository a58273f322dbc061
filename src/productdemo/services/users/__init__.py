"""Accounts, passwords, server-side sessions and their revocation."""
