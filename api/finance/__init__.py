"""GraphQL and domain logic for monthly accounts (财务公开)."""
