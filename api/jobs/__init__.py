"""The job queue and scheduler: their wiring to the domain and the admins' GraphQL."""
