"""The read API's answers: listings, run queries, change feeds, their parameters."""
