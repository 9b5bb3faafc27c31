"""The demo's content: a year of three villages' accounts, items, comments and flags."""
