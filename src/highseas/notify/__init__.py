"""Notifications and reminders: written with the change they tell of, delivered once it commits."""
