"""The shared base: errors, durations and times, ALIVE_HOME's paths, atomic files, state
files, tokens, small records, locks. Every other room builds on it; it imports nothing of
alive outside itself.
"""
