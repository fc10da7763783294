"""Everything sknas writes to disk or records about a fit.

- :mod:`~sknas.io.persistence`: ``sknas.save`` / ``sknas.load``, a fitted model as a zip of
  JSON and tensors that loads without running pickled code;
- :mod:`~sknas.io.checkpoint`: the resumable search journal (``checkpoint=``);
- :mod:`~sknas.io.provenance`: ``provenance_``, what made a fitted model.
"""

from .persistence import load, save

__all__ = ["load", "save"]
