"""How runs and their index entries are named and stored, once and immutably."""
