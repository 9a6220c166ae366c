"""Hand-written wrapper over the generated Unify and Boast clients."""
