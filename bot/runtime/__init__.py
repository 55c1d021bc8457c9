"""What runs the process: the wiring (app), the command line, the HTTP server, the listener pool, the scheduler, and
the Slack app manifest. Nothing in the domain imports this package."""
