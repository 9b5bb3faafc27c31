"""Notifications: events recorded by the domains; channels deliver them (inbox first)."""
