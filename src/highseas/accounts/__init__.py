"""Users, teams, rep profiles, roles, and the visibility layer every read goes through."""
