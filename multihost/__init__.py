"""Several hosts on one machine: network namespaces, a partition, and the chaos checks
(`python -m multihost`, `make multihost`; see docs/fleets-multihost.md)."""
