"""GraphQL and HTTP for uploaded media."""
