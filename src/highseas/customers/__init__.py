"""Customers, contacts, activities (follow-ups), deals, tasks and comments."""
