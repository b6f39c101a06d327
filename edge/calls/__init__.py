"""Ring calls that wake a responder after an SOS text: who is called and when (policy),
the durable call queue (store), and the driver that places one call at a time on the
modem between texts (ringer).

May import: edge.storage, edge.domain/clock/errors.
"""
