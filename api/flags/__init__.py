"""GraphQL and domain logic for flags (质疑/举报)."""
