"""Notifications: announcements and outcomes a user should hear about, stored and delivered live."""
