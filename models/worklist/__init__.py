"""Work lists: what waits for a village's supervisor, and what its clerk has to do —
drafts, items sent back with the supervisor's reason (`models.disclosures.ReturnNote`),
scheduled items, catalogue items due."""
