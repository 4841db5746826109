"""The engine: reverse mode over named equations (backprop, with one vector-Jacobian rule per op
in rules), Jacobians in forward mode, and the simplifier that states each result in closed form.

Modules: rules, backprop, jacobian, simplify/."""
