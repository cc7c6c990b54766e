"""`python -m loadtest <url>`: a load test of a running Dify deployment, checked against a preset's targets.

Importing this package imports nothing heavy: Locust (which patches the standard library with gevent) is
imported only by `loadtest.run`, when a test runs.
"""
