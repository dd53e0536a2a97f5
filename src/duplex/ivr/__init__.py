"""IVR flows: the declarative flow format, its validation, and the interpreter.

The interpreter is a sans-IO state machine: fed events (answered, digit, prompt done, timeout, lookup result),
it returns commands (play, say, collect, enqueue, ...); the call layer carries them out.
"""
