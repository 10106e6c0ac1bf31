"""The local control plane: real Kubernetes (built from Go modules), PostgreSQL and Traefik.

`python -m tests.cluster --help` lists the commands; the Makefile drives them.
"""
