"""The engine: reverse mode over named equations (backprop: one vector-Jacobian rule per op),
Jacobians in forward mode, and the simplifier that states each result in closed form.

Modules: backprop, jacobian, simplify/."""
