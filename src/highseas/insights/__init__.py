"""Value scores, smart assignment, simulation and the dashboards' queries."""
