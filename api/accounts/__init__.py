"""GraphQL for users, sign-in and role grants."""
