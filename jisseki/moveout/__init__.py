"""Everything about the moving-out log (contract 2): its row reader (log), the columnar reader (columnar), the
notification index (index), the figures from its counts (measure) and the bulk path that joins them (bulk)."""
