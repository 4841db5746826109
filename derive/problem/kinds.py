"""The quantity kinds: how each is read, derived, verified, described and graded.

Every other module asks the kind (`q.kind.checked_by`, `q.kind.derive(engine)`), never compares
kind names. A kind is a `str` (its name), so it prints and serialises as before; its behaviour
is chosen here and carried out by the stage it belongs to: `derive` calls one method of the
engine (backprop.Engine), `verify` one of the verifier (verify.Verifier), `grade` one of the
grader (grading.job.Grader), `read` one of the problem-file reader (problem.QuantityReader).
"""
from __future__ import annotations


class Kind(str):
    name = ""
    checked_by = "central finite differences"   # what the numeric proof compares against
    graded = True                 # auto-graded (prose is not)
    asks_gradient = False         # part of a backward pass (the problem shows its steps)
    random_points = False         # graded at random points even where the problem gives numbers
    has_value = True              # a number at the problem's given values
    sheet_layout = "equation"     # how the solution sheet shows it: equation | value | dims | properties | model
    folds_forward = False         # an answer in the allowed inputs is shown folded back into the nodes
    index_words = "As a matrix (row $j$, column $i$)"   # the sheet's words before an index quantity's matrix form
    needs_maths = True            # needs the problem's symbols and forward equations (prose does not)
    name_is_symbol = False        # its name (dz2/dz1) may stand in an answer
    mutated = True                # graded by equivalence: mutants.py makes its classic wrong answers
    of_is_computed = False        # `of` must be a forward equation's node, not an input (dA/dB across an op)
    shows_error = True            # the sheet shows its verification line (max relative error against ...)
    index_names_matrix = False    # the sheet names the matrix form of an index quantity (dL/dh = ...)
    shows_closed = False          # the solution shows the closed form beside the asked one (1024×32 for n_1×batch)
    trains = False                # the gradient of the loss for a parameter (gradient descent steps along it)

    def __new__(cls, value=None):
        return super().__new__(cls, cls.name)

    def __reduce__(self):
        return get, (self.name,)

    def read(self, reader, q):
        """The Quantity for a [[quantities]] entry `q` of this kind (None: the general reading)."""
        return None

    def derive(self, engine, q):
        raise NotImplementedError

    def verify(self, verifier, r):
        raise NotImplementedError

    def grade(self, grader):
        return grader.equivalence()

    def own_symbol(self, problem, q):
        """The symbol that names the asked quantity itself, which an answer may not use."""
        return None

    def ungraded_feedback(self, q) -> str:
        return ""

    def answered_by_forward(self, problem) -> bool:
        """Whether the forward equation of its node states the answer (a question sheet leaves it out)."""
        return False


class Gradient(Kind):
    name = "gradient"
    asks_gradient = True
    trains = True
    folds_forward = True
    index_words = "In vector form"
    index_names_matrix = True

    def derive(self, engine, q):
        return engine.adjoint(q)

    def verify(self, verifier, r):
        return verifier.finite_differences(r)

    def own_symbol(self, problem, q):
        if q.wrt in problem.adjoint_names and not q.index:
            return problem.scope.symbols.get(problem.adjoint_names[q.wrt])
        return None


class Jacobian(Kind):
    name = "jacobian"
    asks_gradient = True
    folds_forward = True
    name_is_symbol = True
    of_is_computed = True

    def derive(self, engine, q):
        return engine.jacobian(q)

    def own_symbol(self, problem, q):
        return problem.scope.symbols.get(q.name)

    def verify(self, verifier, r):
        return verifier.node_finite_differences(r)


class Value(Kind):
    name = "value"
    checked_by = "the forward pass"
    sheet_layout = "value"

    def derive(self, engine, q):
        return engine.forward(q)

    def verify(self, verifier, r):
        return verifier.forward_pass(r)

    def own_symbol(self, problem, q):
        return problem.scope.symbols.get(q.of)

    def answered_by_forward(self, problem) -> bool:
        return not problem.values          # without numbers the asked value is its node's formula


class Formula(Value):
    """A value graded as an expression: it must hold beyond the given numbers."""
    name = "formula"
    random_points = True
    sheet_layout = "equation"

    def own_symbol(self, problem, q):
        return None

    def answered_by_forward(self, problem) -> bool:
        return True


class Shape(Kind):
    name = "shape"
    mutated = False
    checked_by = "positive integer dimensions"
    has_value = False
    shows_error = False
    shows_closed = True
    sheet_layout = "dims"

    def read(self, reader, q):
        return reader.shape(q)

    def derive(self, engine, q):
        return engine.dims(q)

    def verify(self, verifier, r):
        return verifier.dimensions(r)

    def grade(self, grader):
        return grader.shape()


class Property(Kind):
    """Graded by properties (properties.py) instead of equivalence."""
    name = "property"
    mutated = False
    checked_by = "its own property checks"
    has_value = False
    shows_error = False
    sheet_layout = "properties"
    CHECKS = ("range", "reaches", "monotone", "differentiable", "dead")
    DEFAULT_CHECKS = ("range", "reaches", "monotone", "differentiable")

    def read(self, reader, q):
        return reader.property(q)

    def derive(self, engine, q):
        return engine.forward(q)

    def verify(self, verifier, r):
        return verifier.own_properties(r)

    def grade(self, grader):
        return grader.properties()

    def own_symbol(self, problem, q):
        return problem.scope.symbols.get(q.of)

    def answered_by_forward(self, problem) -> bool:
        return True                        # the node's equation is a model answer


class Prose(Kind):
    name = "prose"
    mutated = False
    checked_by = "not auto-graded"
    graded = False
    has_value = False
    shows_error = False
    sheet_layout = "model"
    needs_maths = False

    def read(self, reader, q):
        return reader.prose(q)

    def derive(self, engine, q):
        return engine.nothing(q)

    def verify(self, verifier, r):
        return 0.0                      # nothing to prove: shown with its model answer

    def grade(self, grader):
        return grader.prose()

    def ungraded_feedback(self, q) -> str:
        return "this question is not auto-graded; compare with the model answer: " + " ".join(q.model_answer.split())


GRADIENT, JACOBIAN, VALUE, FORMULA = Gradient(), Jacobian(), Value(), Formula()
SHAPE, PROPERTY, PROSE = Shape(), Property(), Prose()
KINDS = {k.name: k for k in (GRADIENT, VALUE, JACOBIAN, FORMULA, SHAPE, PROPERTY, PROSE)}


def get(name: str) -> Kind:
    """The kind called `name`; KeyError for an unknown name."""
    return KINDS[name]
