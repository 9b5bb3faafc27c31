"""GraphQL and domain logic for disclosures (公开事项)."""
