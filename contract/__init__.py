"""The Python side of the contract in proto/: protobuf messages <-> engine domain values
(``contract.convert``), and the conventions the server and the command line share
(``contract.settings``).

The server, the command line, the benchmarks and the tests all translate through here,
so the contract has one adapter and ``clients/`` never needs ``server/``.
"""
