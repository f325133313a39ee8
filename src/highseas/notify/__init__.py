"""Notifications and reminders; delivered after commit, never before."""
