"""`followup demo`: a seeded company and a year of its department, played on the stack."""
