"""`alive serve`: the live dashboard and its PWA files. Imports the layers below it
(write's ping server, report's renderers, correct's queue); nothing imports serve.
"""
