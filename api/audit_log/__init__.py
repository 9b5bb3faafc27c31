"""GraphQL for reading the audit log (inspectors and admins)."""
