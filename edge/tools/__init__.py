"""The command line and the installer's tools: `edge-hub` and its commands (cli*),
doctor, pairing a watch, and the test alarm. The registration of each command is cheap;
what a command needs is imported when it runs.

May import: any layer (nothing imports it).
"""
