"""Dash callbacks, thin, registered by the app factory on each app it builds."""
