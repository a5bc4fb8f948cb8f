"""The `rubberduck` command: runs a server (serve, runproxies, token create) and drives one over its REST API."""
