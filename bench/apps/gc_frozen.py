"""bench/apps/gc_counted.py's variants with everything loaded at import moved out of the
collector's reach (`gc.freeze()`, as servers that fork their workers advise): a full collection
then walks only what was made since, not the whole app's heap."""

import gc

from bench.apps.gc_counted import bare, probe

__all__ = ["bare", "probe"]

gc.collect()
gc.freeze()
