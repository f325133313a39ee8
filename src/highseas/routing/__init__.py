"""Assignment rules and runs: maps the ORM to the engine's routing strategies."""
