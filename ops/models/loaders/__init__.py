"""How each kind of model loads: one small ``Loader`` class per kind, each importing its library
only when a model of its kind first loads."""
