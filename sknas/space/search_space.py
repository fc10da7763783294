"""The search space and the primitives every strategy uses on it.

:class:`SearchSpace` says which choices exist (ops, widths, depth, ...).  Its
``sample``, ``mutate`` and ``crossover`` methods are the only way strategies
create Architectures, so every strategy explores the same space and every
Architecture they produce is valid by construction.
"""

from __future__ import annotations

import numbers
import dataclasses
from dataclasses import dataclass, fields

from sklearn.utils import check_random_state

from .architecture import Architecture, Block
from .ops import ACTIVATIONS, NORMS, OPS, PRESERVING_OPS

# "attention" is in the library but not in the default space: on digits (64
# columns) its candidates took 12-170 s against 0.5-6 s for the others (2 CPU
# threads, benchmarks/results/default_space.md), and none of them won.
DEFAULT_OPS = ("linear", "gated", "feature_gate")


@dataclass(frozen=True)
class SearchSpace:
    """The choices a search may make.

    Parameters
    ----------
    ops : tuple of str
        Ops a block may use (see :data:`sknas.space.ops.OPS`).  ``"skip"`` and
        ``"zero"`` are allowed but off by default: in a chain they add nothing
        a shallower network lacks.
    widths : tuple of int
        Widths of width-changing ops.
    max_depth : int
        Most hidden blocks.  Depth 0 is the linear map.
    activations, norms : tuple of str
    dropouts : tuple of float
    residual : tuple of bool
        Whether blocks may be residual.
    include_identity : bool
        Whether the classical fixed maps are candidates: the raw features
        (``Architecture(head="identity")``) and the label-free discriminant map
        (``Architecture(head="lda")``).  They let a search fall back to the
        classical recipe.
    identity_prob : float
        Probability that :meth:`sample` draws the identity map.
    embedding_dims : tuple of int or "auto"
        Widths of the categorical columns' embeddings (``"auto"``: the rule
        ``min(16, ceil(1.6 * cardinality ** 0.56))`` per column).
    categorical : bool
        Whether the data has categorical columns.  The estimators set it from
        the data; only then do :meth:`sample`, :meth:`mutate` and
        :meth:`crossover` choose an embedding width (so on numeric data they
        draw exactly what they drew before categorical support).

    Examples
    --------
    >>> from sknas.space import SearchSpace
    >>> space = SearchSpace(widths=(16, 32), max_depth=2)
    >>> arch = space.sample(random_state=0)
    >>> space.contains(arch)
    True
    >>> space.contains(space.mutate(arch, random_state=1))
    True
    """

    ops: tuple = DEFAULT_OPS
    widths: tuple = (32, 64, 128, 256)
    max_depth: int = 3
    activations: tuple = ("relu", "gelu", "silu", "tanh")
    norms: tuple = ("none", "batchnorm", "layernorm")
    dropouts: tuple = (0.0, 0.1)
    residual: tuple = (False, True)
    include_identity: bool = True
    identity_prob: float = 0.05
    embedding_dims: tuple = ("auto", 2, 4, 8)
    categorical: bool = False

    def __post_init__(self):
        for name, allowed in (("ops", OPS), ("activations", ACTIVATIONS), ("norms", NORMS)):
            values = tuple(getattr(self, name))
            if not values or any(v not in allowed for v in values):
                raise ValueError(f"SearchSpace.{name} must be a non-empty subset of {allowed}, got {values!r}.")
            object.__setattr__(self, name, values)
        for name in ("widths", "dropouts", "residual"):
            values = tuple(getattr(self, name))
            if not values:
                raise ValueError(f"SearchSpace.{name} must not be empty.")
            object.__setattr__(self, name, values)
        if any(isinstance(w, bool) or not isinstance(w, numbers.Integral) or w < 1 for w in self.widths):
            raise ValueError(f"SearchSpace.widths must be positive ints, got {self.widths!r}.")
        object.__setattr__(self, "widths", tuple(int(w) for w in self.widths))
        if any(not isinstance(d, numbers.Real) or not 0.0 <= d < 1.0 for d in self.dropouts):
            raise ValueError(f"SearchSpace.dropouts must be in [0, 1), got {self.dropouts!r}.")
        if isinstance(self.max_depth, bool) or not isinstance(self.max_depth, numbers.Integral) \
                or not 0 <= self.max_depth <= 16:
            raise ValueError(f"SearchSpace.max_depth must be an int in [0, 16], got {self.max_depth!r}.")
        if self.ops == ("zero",) and True not in self.residual:
            raise ValueError("A space whose only op is 'zero' needs residual=(True,).")
        if not 0.0 <= self.identity_prob <= 1.0:
            raise ValueError(f"identity_prob must be in [0, 1], got {self.identity_prob!r}.")
        dims = tuple(self.embedding_dims)
        if not dims or any(d != "auto" and (isinstance(d, bool) or not isinstance(d, numbers.Integral) or d < 1)
                           for d in dims):
            raise ValueError(f"SearchSpace.embedding_dims must be positive ints or 'auto', got {dims!r}.")
        object.__setattr__(self, "embedding_dims", tuple(d if d == "auto" else int(d) for d in dims))

    @classmethod
    def from_dict(cls, params):
        known = {f.name for f in fields(cls)}
        unknown = set(params) - known
        if unknown:
            raise ValueError(f"Unknown search_space keys {sorted(unknown)}; expected some of {sorted(known)}.")
        return cls(**params)

    # -- membership -----------------------------------------------------
    def contains(self, arch):
        """Whether ``arch`` could have been produced by this space."""
        if arch.head in ("identity", "lda"):
            return self.include_identity
        if arch.depth > self.max_depth:
            return False
        for b in arch.blocks:
            if b.op not in self.ops or b.activation not in self.activations or b.norm not in self.norms:
                return False
            if b.dropout not in self.dropouts or b.residual not in self.residual:
                return False
            if b.op not in PRESERVING_OPS and b.width not in self.widths:
                return False
        # "auto" is always a member: strategies that build blocks themselves (DARTS, RL) leave it.
        return arch.embedding_dim == "auto" or arch.embedding_dim in self.embedding_dims

    # -- primitives -------------------------------------------------------
    def fallback(self, kind):
        """The classical-recipe candidates: ``"identity"`` (raw features), ``"linear"``, or
        ``"lda"`` (the label-free discriminant map).

        Returns None when the space excludes it (``include_identity`` governs the two fixed maps).
        """
        if kind in ("identity", "lda"):
            return Architecture(head=kind) if self.include_identity else None
        if kind == "linear":
            return Architecture(())
        raise ValueError(f"kind must be 'identity', 'linear' or 'lda', got {kind!r}.")

    def fallbacks(self):
        """Every classical-recipe candidate the space includes, in the order searches try them."""
        return [arch for arch in map(self.fallback, ("identity", "linear", "lda")) if arch is not None]

    def sample_distinct(self, avoid, random_state=None, tries=20):
        """Draw an Architecture not in ``avoid`` when ``tries`` redraws find one (small spaces may run out)."""
        rng = check_random_state(random_state)
        arch = self.sample(rng)
        for _ in range(tries):
            if arch not in avoid:
                break
            arch = self.sample(rng)
        return arch

    def sample_block(self, random_state=None):
        """Draw one valid block."""
        rng = check_random_state(random_state)
        op = self.ops[rng.randint(len(self.ops))]
        residual = bool(self.residual[rng.randint(len(self.residual))])
        if op == "zero":
            if True not in self.residual:  # zero is invalid here; draw a real op instead
                op = next(o for o in self.ops if o != "zero")
            else:
                residual = True
        return Block(
            op=op,
            width=0 if op in PRESERVING_OPS else int(self.widths[rng.randint(len(self.widths))]),
            activation=self.activations[rng.randint(len(self.activations))],
            norm=self.norms[rng.randint(len(self.norms))],
            dropout=float(self.dropouts[rng.randint(len(self.dropouts))]),
            residual=residual,
        )

    def sample(self, random_state=None):
        """Draw an Architecture: depth uniform in ``[0, max_depth]``, blocks independent."""
        rng = check_random_state(random_state)
        if self.include_identity and rng.rand() < self.identity_prob:
            return Architecture(head="identity")
        depth = rng.randint(self.max_depth + 1)
        blocks = tuple(self.sample_block(rng) for _ in range(depth))
        return Architecture(blocks, embedding_dim=self._sample_embedding(rng))

    def _sample_embedding(self, rng):
        """An embedding width; no draw on numeric data, so its random stream is as before."""
        if not self.categorical:
            return "auto"
        return self.embedding_dims[rng.randint(len(self.embedding_dims))]

    def mutate(self, arch, random_state=None):
        """Change one decision of ``arch``: a block field, or add/remove a block.

        The result is always a member of the space and differs from ``arch``
        whenever the space offers an alternative.
        """
        rng = check_random_state(random_state)
        for _ in range(20):  # retry the rare no-op mutation (e.g. a field with one choice)
            child = self._mutate_once(arch, rng)
            if child != arch:
                return child
        return child

    def _mutate_once(self, arch, rng):
        if arch.head in ("identity", "lda"):
            blocks = tuple(self.sample_block(rng) for _ in range(rng.randint(self.max_depth + 1)))
            return Architecture(blocks, embedding_dim=self._sample_embedding(rng))
        blocks = list(arch.blocks)
        moves = ["field"] if blocks else []
        if len(blocks) < self.max_depth:
            moves.append("add")
        if blocks:
            moves.append("remove")
        if self.include_identity:
            moves.append("identity")
        if self.categorical and len(self.embedding_dims) > 1:
            moves.append("embedding")
        move = moves[rng.randint(len(moves))] if moves else "identity"
        if move == "identity":
            return Architecture(head="identity") if self.include_identity else arch
        if move == "embedding":
            return Architecture(arch.blocks, embedding_dim=self._sample_embedding(rng))
        if move == "add":
            blocks.insert(rng.randint(len(blocks) + 1), self.sample_block(rng))
        elif move == "remove":
            del blocks[rng.randint(len(blocks))]
        else:
            i = rng.randint(len(blocks))
            blocks[i] = self._mutate_block(blocks[i], rng)
        return Architecture(tuple(blocks), embedding_dim=arch.embedding_dim)

    def _mutate_block(self, block, rng):
        fresh = self.sample_block(rng)
        name = ("op", "width", "activation", "norm", "dropout", "residual")[rng.randint(6)]
        values = {f.name: getattr(block, f.name) for f in fields(Block)}
        if name == "op":
            values.update(op=fresh.op, width=fresh.width if block.width == 0 else block.width)
            if fresh.op not in PRESERVING_OPS and values["width"] == 0:
                values["width"] = fresh.width
            if fresh.op == "zero":
                values["residual"] = True
        elif name == "width" and block.op not in PRESERVING_OPS:
            values["width"] = int(self.widths[rng.randint(len(self.widths))])
        elif name == "residual" and block.op != "zero":
            values["residual"] = fresh.residual
        elif name in ("activation", "norm", "dropout"):
            values[name] = getattr(fresh, name)
        return Block(**values)

    def crossover(self, a, b, random_state=None, kind="one_point"):
        """Combine two parents' blocks.

        ``kind="one_point"`` joins a prefix of ``a`` to a suffix of ``b``;
        ``kind="uniform"`` takes each position from either parent.  The child
        is truncated to ``max_depth``; an identity parent contributes no
        blocks.
        """
        rng = check_random_state(random_state)
        if kind not in ("one_point", "uniform"):
            raise ValueError(f"kind must be 'one_point' or 'uniform', got {kind!r}.")
        if a.head in ("identity", "lda") and b.head in ("identity", "lda"):
            return a
        blocks_a, blocks_b = list(a.blocks), list(b.blocks)
        if kind == "one_point":
            child = blocks_a[: rng.randint(len(blocks_a) + 1)] + blocks_b[rng.randint(len(blocks_b) + 1):]
        else:
            n = max(len(blocks_a), len(blocks_b))
            child = []
            for i in range(n):
                pick = blocks_a if rng.rand() < 0.5 else blocks_b
                if i < len(pick):
                    child.append(pick[i])
        embedding_dim = "auto"
        if self.categorical:  # from either parent that has one (a fixed-map parent has none)
            dims = [p.embedding_dim for p in (a, b) if p.head not in ("identity", "lda")]
            embedding_dim = dims[rng.randint(len(dims))]
        return Architecture(tuple(child[: self.max_depth]), embedding_dim=embedding_dim)


_BLOCK_FIELDS = tuple(f.name for f in fields(Block))


def genotype_distance(a, b):
    """Number of decisions that differ between two Architectures.

    Blocks are compared position by position (one point per differing field);
    each block only one of them has counts as all its fields; a different
    head or embedding width counts one.  Symmetric, zero only for equal Architectures.

    Examples
    --------
    >>> from sknas.space import Architecture, Block, genotype_distance
    >>> a = Architecture((Block("linear", 64),))
    >>> genotype_distance(a, Architecture((Block("linear", 32),)))
    1
    >>> genotype_distance(a, Architecture(()))
    6
    """
    distance = int(a.head != b.head) + int(a.embedding_dim != b.embedding_dim)
    for block_a, block_b in zip(a.blocks, b.blocks):
        distance += sum(getattr(block_a, f) != getattr(block_b, f) for f in _BLOCK_FIELDS)
    return distance + len(_BLOCK_FIELDS) * abs(a.depth - b.depth)


def reencode(architecture, space):
    """``architecture`` as ``space`` would spell it: an embedding width the space cannot use becomes ``"auto"``.

    On numeric data (``space.categorical`` False) the embedding width means
    nothing, so a map found on categorical data compares equal to the same map
    sampled here (and the cache, the surrogates and the RL grammar see one genome).
    """
    dim = architecture.embedding_dim
    if dim != "auto" and (not space.categorical or dim not in space.embedding_dims):
        return dataclasses.replace(architecture, embedding_dim="auto")
    return architecture
