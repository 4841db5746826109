"""Verification: numeric instances of a problem (sizes, seeded points, stand-ins), the proof of
each derived result (finite differences, properties), and solve(): load -> derive -> verify.

Modules: instances, proof, properties, solve (Solution, solve)."""
