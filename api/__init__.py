"""cunwu's HTTP and GraphQL layer."""
