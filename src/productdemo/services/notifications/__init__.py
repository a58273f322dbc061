"""Announcements from administrators, delivered as ``notification`` events."""
