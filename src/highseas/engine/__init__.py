"""The pure decision layer: plain data in, plans and reasons out. Imports no Django."""
