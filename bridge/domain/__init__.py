"""The pure core: store events, actions and the rules that turn Gelato answers into outcomes.

Nothing here does I/O or reads the clock; times and random numbers come in as arguments.
"""
