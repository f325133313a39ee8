"""REST API v1: input validation and orchestration only; services decide."""
