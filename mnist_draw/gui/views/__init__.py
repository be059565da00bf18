"""Widgets that draw what they are given and emit what the user asked for; they decide nothing."""
