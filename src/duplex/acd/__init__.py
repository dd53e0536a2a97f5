"""Automatic call distribution: queues, skills, routing strategies and agent states.

A sans-IO core (no asyncio, sockets, database or wall clock): it is fed events and ``now`` and returns decisions,
so the live server and the simulator (`duplex.sim`) run the same code.
"""
