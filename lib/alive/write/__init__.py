"""The write side of the triad: the heartbeat schema and writer, `alive write`,
`alive run` (the runner), the Python API behind alive.task(), the shared write options and
the inbound ping server. Imports alive.base and alive.config only; it is on the path of every
job, so keep its imports lazy and few.
"""
