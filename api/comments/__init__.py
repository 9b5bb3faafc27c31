"""GraphQL for comments on published items."""
