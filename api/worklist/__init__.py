"""Work lists: the supervisor's review queue and the clerk's work."""
