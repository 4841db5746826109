"""Problems: a problem file (TOML) checked against its schema and built into a Problem with
its quantities, their kinds and the [variants] table.

Modules: schema, kinds, quantities, variant_table, load (Problem, load, catalogue)."""
