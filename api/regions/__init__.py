"""GraphQL for the region tree."""
