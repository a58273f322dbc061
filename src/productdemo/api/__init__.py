"""Thin HTTP routes: parse, authorize, call a service, return."""
