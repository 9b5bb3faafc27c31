"""tortoise-orm migrations of the `cunwu` app, in dependency order."""
