"""Discrete-event simulation in virtual time that drives the real ACD, IVR and dialer cores.

It imports the cores only, never the asyncio services or the database.
"""
